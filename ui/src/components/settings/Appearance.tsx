/**
 * Settings → Appearance: theme and density. These are one person's taste, not fleet
 * policy, so they stay in this browser (local storage, the `lq-ui` store) and are not
 * events; every other tab changes fleet settings through the API.
 */
import { Card } from '../ui/Card'
import { useUi, type Density, type Theme } from '../../stores/ui'

function Choice<T extends string>({ name, label, value, options, onChange }: { name: string; label: string; value: T; options: { key: T; label: string }[]; onChange: (v: T) => void }) {
  return (
    <fieldset className="space-y-1">
      <legend className="text-sm font-medium text-fg">{label}</legend>
      <div className="flex gap-4">
        {options.map((o) => (
          <label key={o.key} className="flex items-center gap-1.5 text-sm text-fg">
            <input type="radio" name={name} value={o.key} checked={value === o.key} onChange={() => onChange(o.key)} />
            {o.label}
          </label>
        ))}
      </div>
    </fieldset>
  )
}

export function Appearance() {
  const { theme, setTheme, density, setDensity } = useUi()
  return (
    <Card title="Appearance">
      <div className="space-y-4">
        <Choice<Theme> name="theme" label="Theme" value={theme} onChange={setTheme} options={[{ key: 'dark', label: 'Dark' }, { key: 'light', label: 'Light' }]} />
        <Choice<Density> name="density" label="Density" value={density} onChange={setDensity} options={[{ key: 'comfortable', label: 'Comfortable' }, { key: 'compact', label: 'Compact' }]} />
        <p className="text-xs text-muted">Applies at once, to you only, and is kept in this browser.</p>
      </div>
    </Card>
  )
}
