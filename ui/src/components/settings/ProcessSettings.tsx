/**
 * Settings → Advanced: this controlplane process's static settings (environment, TOML,
 * command line), each with where its value came from. Read-only: they change with a
 * restart, not through the API; secrets are redacted by the server.
 */
import { Card } from '../ui/Card'
import { ErrorState, Spinner } from '../ui/Feedback'
import { useProcessSettings, settingText } from '../../lib/api/settings'

export function ProcessSettings() {
  const rows = useProcessSettings()
  return (
    <Card title="Process settings (read-only)" bodyClassName="p-0">
      <p className="border-b border-border px-4 py-2 text-xs text-muted">
        Static for the life of this controlplane process: set them with <code>LQ_*</code> environment variables, <code>lq.toml</code> or command-line flags, then restart. Fleet-wide policy lives in the other tabs.
      </p>
      {rows.isPending ? <Spinner /> : rows.isError ? <ErrorState error={rows.error} /> : (
        <table className="w-full text-sm" aria-label="Process settings">
          <thead className="text-left text-xs text-muted">
            <tr><th className="px-4 py-2">Setting</th><th className="px-4 py-2">Value</th><th className="px-4 py-2">From</th></tr>
          </thead>
          <tbody>
            {rows.data.items.map((r) => (
              <tr key={r.name} className="border-t border-border" data-process-setting={r.name}>
                <td className="px-4 py-1.5 font-mono text-xs text-fg">{r.name}</td>
                <td className="px-4 py-1.5 font-mono text-xs break-all text-fg">{settingText(r.value) || <span className="text-subtle">(empty)</span>}</td>
                <td className="px-4 py-1.5 text-xs text-muted">{r.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  )
}
