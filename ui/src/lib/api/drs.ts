/**
 * DRS recommendations API. Recommendations are events (kind `drs_recommendation`): the
 * live-changes stream invalidates the `['drs_recommendations']` prefix, so no polling.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from './client'
import { describeError } from './errors'
import { toast } from '../../stores/ui'

export type RecommendationState = 'pending' | 'approved' | 'rejected' | 'applied' | 'expired' | 'failed'
export type RecommendationVerb = 'approve' | 'reject' | 'apply'

export interface Recommendation {
  id: string
  cluster_id: string
  vm_id: string
  vm_name: string | null
  from_host_id: string
  from_host_name: string | null
  to_host_id: string
  to_host_name: string | null
  priority: number
  improvement: number
  imbalance_before: number
  imbalance_after: number
  reason: string
  state: RecommendationState
  task_id: string | null
  automatic: boolean
  error: string | null
  expires_at: string
  created_at: string
  updated_at: string
  seq: number
}

export interface RecommendationPage {
  items: Recommendation[]
  total?: number
  next_cursor?: string | null
}

export function useRecommendations(state: string) {
  return useQuery({
    queryKey: ['drs_recommendations', { state }],
    queryFn: ({ signal }) =>
      api.get<RecommendationPage>('/drs/recommendations', { state: state || undefined, limit: 200 }, signal),
    placeholderData: keepPreviousData,
  })
}

export function useRecommendationAction() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: ({ id, verb }: { id: string; verb: RecommendationVerb }) =>
      api.request<{ recommendation_id: string; task_id?: string; state?: string; seq: number }>(
        'POST',
        `/drs/recommendations/${encodeURIComponent(id)}/actions/${verb}`,
        { body: {} },
      ),
    onSuccess: (_r, { verb }) => {
      toast.success(
        verb === 'apply' ? 'Migration started' : verb === 'approve' ? 'Recommendation approved' : 'Recommendation rejected',
      )
      void qc.invalidateQueries({ queryKey: ['drs_recommendations'] })
    },
    onError: (e) => toast.error('The recommendation was not changed', describeError(e)),
  })
}
