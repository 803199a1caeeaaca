/**
 * ApiError: every failure of an API call, normalised from problem+json (RFC 9457) or from
 * the transport, with a message written for a person rather than a log file.
 */

export const PROBLEM_PREFIX = 'urn:limiquantix:problem:'

export interface ProblemBody {
  type?: string
  title?: string
  status?: number
  detail?: string
  instance?: string
  [extra: string]: unknown
}

export class ApiError extends Error {
  readonly status: number
  /** Stable slug such as `not-found`, `invalid-state`; `network` when the server was not reached. */
  readonly slug: string
  readonly type: string
  readonly title: string
  readonly detail: string
  readonly problem: ProblemBody | null

  constructor(status: number, problem: ProblemBody | null, fallbackTitle: string) {
    const type = typeof problem?.type === 'string' ? problem.type : ''
    const slug = type.startsWith(PROBLEM_PREFIX)
      ? type.slice(PROBLEM_PREFIX.length)
      : status === 0
        ? 'network'
        : `http-${status}`
    const title = (typeof problem?.title === 'string' && problem.title) || fallbackTitle
    const detail = typeof problem?.detail === 'string' ? problem.detail : ''
    super(humanMessage(status, slug, title, detail, problem))
    this.name = 'ApiError'
    this.status = status
    this.slug = slug
    this.type = type
    this.title = title
    this.detail = detail
    this.problem = problem
  }

  /** Client errors (4xx) are final; retrying them only repeats the same answer. */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500
  }
}

function sentence(s: string): string {
  const t = s.trim()
  if (!t) return t
  const cap = t[0].toUpperCase() + t.slice(1)
  return /[.!?]$/.test(cap) ? cap : `${cap}.`
}

/** The words shown to a person for a problem. */
export function humanMessage(
  status: number,
  slug: string,
  title: string,
  detail: string,
  problem: ProblemBody | null,
): string {
  switch (slug) {
    case 'network':
      return 'Cannot reach the LimiQuantix server. Check that it is running and your network connection.'
    case 'not-found': {
      const raw = typeof problem?.kind === 'string' ? problem.kind : 'item'
      const kind = raw === 'vm' ? 'VM' : raw
      return `This ${kind} does not exist (anymore). It may have been deleted.`
    }
    case 'invalid-state':
    // Refusals of the VM lifecycle that name their reason in `detail`.
    case 'operation-in-progress':
    case 'has-snapshots':
    case 'has-linked-clones':
    case 'is-template':
    case 'not-a-template':
    case 'boot-disk':
    case 'not-cancellable':
    case 'pinned-host':
    case 'duplicate':
    case 'memory-needs-running':
      return detail ? `Not possible right now: ${sentence(detail)}` : 'That action is not possible in the current state.'
    case 'concurrent-modification':
      return 'The item was changing at the same time. Please try again.'
    case 'invalid-body':
      return detail ? `Some values are not valid: ${sentence(detail)}` : 'Some values are not valid.'
    case 'malformed-request':
      return 'The request could not be understood by the server.'
    case 'invalid-parameter':
      return detail ? `A filter or parameter is not valid: ${sentence(detail)}` : 'A filter or parameter is not valid.'
    case 'unavailable':
      return 'A backing service of LimiQuantix is unavailable. Try again in a moment.'
    case 'read-timeout':
      return 'The server is still processing recent changes. The view will update in a moment.'
    case 'unauthorized':
      return detail ? `Not signed in: ${sentence(detail)}` : 'Please sign in.'
    case 'forbidden':
      return typeof problem?.permission === 'string'
        ? `You do not have the permission ${problem.permission} for this.`
        : 'You do not have permission for this.'
    case 'too-many-attempts': {
      const wait = typeof problem?.retry_after === 'number' ? problem.retry_after : 0
      return wait
        ? `Too many failed sign-ins. Try again in ${wait} second${wait === 1 ? '' : 's'}.`
        : 'Too many failed sign-ins. Try again later.'
    }
    default:
      if (detail) return `${sentence(title)} ${sentence(detail)}`
      if (status >= 500) return `The server had a problem (${status}). Try again in a moment.`
      return sentence(title)
  }
}

/** Build an ApiError from a fetch Response (reads the body). */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  const ctype = res.headers.get('content-type') ?? ''
  let problem: ProblemBody | null = null
  try {
    const text = await res.text()
    if (text && (ctype.includes('json') || text.trimStart().startsWith('{'))) {
      const parsed: unknown = JSON.parse(text)
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) problem = parsed as ProblemBody
    }
  } catch {
    problem = null
  }
  return new ApiError(res.status, problem, res.statusText || `HTTP ${res.status}`)
}

export function networkError(cause: unknown): ApiError {
  const err = new ApiError(0, null, 'Network error')
  ;(err as { cause?: unknown }).cause = cause
  return err
}

/** Any thrown value as a sentence for a person. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.message
  if (err instanceof Error) return err.message
  return String(err)
}
