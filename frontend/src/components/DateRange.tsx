export interface Range {
  from: string;
  to: string;
}

export function DateRange({ range, onChange }: { range: Range; onChange: (range: Range) => void }) {
  return (
    <fieldset className="range">
      <legend>Date range</legend>
      <label>
        From
        <input type="date" value={range.from} max={range.to} onChange={(e) => onChange({ ...range, from: e.target.value })} />
      </label>
      <label>
        To
        <input type="date" value={range.to} min={range.from} onChange={(e) => onChange({ ...range, to: e.target.value })} />
      </label>
    </fieldset>
  );
}
