/** One metric of one host or VM over a range, as a Recharts line chart that refreshes itself. */
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import { Card } from '../ui/Card'
import { InlineError, Spinner } from '../ui/Feedback'
import { formatUnit, useMetricSeries, type Entity, type MetricKind, type MetricRange, type SeriesDef } from '../../lib/api/metrics'

const COLORS = ['var(--lq-accent)', 'var(--lq-warn)', 'var(--lq-ok)', 'var(--lq-info)', 'var(--lq-bad)', 'var(--lq-idle)']
const TITLES: Record<MetricKind, string> = { cpu: 'CPU', memory: 'Memory', disk: 'Disk', net: 'Network' }

/** Which series of a metric share one chart: one unit per chart keeps the axis honest. */
export function chartSeries(series: SeriesDef[]): SeriesDef[] {
  if (!series.length) return series
  const unit = series[0].unit
  return series.filter((s) => s.unit === unit)
}

function tickTime(range: MetricRange) {
  return (t: number) => {
    const d = new Date(t)
    if (range === '7d' || range === '30d') return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
    return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
  }
}

export function MetricChart({ entity, id, metric, range, height = 180 }: { entity: Entity; id: string; metric: MetricKind; range: MetricRange; height?: number }) {
  const q = useMetricSeries(entity, id, metric, range)
  const shown = chartSeries(q.data?.series ?? [])
  const unit = shown[0]?.unit ?? ''
  const resolution = q.data ? `${q.data.resolution === 'raw' ? 'samples' : q.data.resolution} · ${q.data.step_s}s buckets` : ''
  return (
    <Card
      title={TITLES[metric]}
      actions={<span className="text-xs text-subtle" data-testid={`resolution-${metric}`}>{resolution}</span>}
    >
      {q.isPending ? (
        <Spinner />
      ) : q.isError && !q.data ? (
        <InlineError error={q.error} />
      ) : q.data!.points.length === 0 ? (
        <p className="py-8 text-center text-sm text-muted">No samples in this range yet.</p>
      ) : (
        <div style={{ height }} data-testid={`chart-${metric}`}>
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={q.data!.points} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
              <CartesianGrid stroke="var(--lq-border)" strokeDasharray="3 3" vertical={false} />
              <XAxis
                dataKey="t"
                type="number"
                scale="time"
                domain={[q.data!.from, q.data!.to]}
                tickFormatter={tickTime(range)}
                stroke="var(--lq-subtle)"
                fontSize={11}
              />
              <YAxis
                stroke="var(--lq-subtle)"
                fontSize={11}
                width={64}
                domain={unit === '%' ? [0, 100] : [0, 'auto']}
                tickFormatter={(v: number) => formatUnit(v, unit)}
              />
              <Tooltip
                contentStyle={{ background: 'var(--lq-elevated)', border: '1px solid var(--lq-border-strong)', borderRadius: 8, fontSize: 12 }}
                labelFormatter={(t) => new Date(Number(t)).toLocaleString()}
                formatter={(v, name) => [formatUnit(typeof v === 'number' ? v : null, unit), name]}
              />
              <Legend wrapperStyle={{ fontSize: 12 }} />
              {shown.map((s, i) => (
                <Line
                  key={s.key}
                  dataKey={s.key}
                  name={s.label}
                  stroke={COLORS[i % COLORS.length]}
                  dot={false}
                  strokeWidth={1.5}
                  isAnimationActive={false}
                  connectNulls={false}
                />
              ))}
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
    </Card>
  )
}
