/** Long enough to say what went wrong; short enough that an HTML error page or a stack dump cannot bloat a row or a log. */
const maxSummaryLength = 500;

/** What a relay keeps of a failure (in `lastError`, in its log line): the error's message, bounded. */
export function errorSummary(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, maxSummaryLength);
}
