import { QueryClient } from '@tanstack/react-query'
import { ApiError } from './api/errors'

/**
 * Data stays fresh through live invalidation, so queries never refetch on a timer or on
 * window focus; a failed read is retried only when retrying can help (network, 5xx).
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: Infinity,
        gcTime: 5 * 60_000,
        refetchOnWindowFocus: false,
        refetchOnReconnect: false,
        retry: (count, err) => (err instanceof ApiError ? err.retryable && count < 2 : count < 1),
      },
      mutations: { retry: false },
    },
  })
}
