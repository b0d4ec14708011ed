import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { Kpis, TimeSeries } from "../api/types";

const CHARTS: { key: string; title: string; value: (kpis: Kpis) => number | null | undefined }[] = [
  { key: "fcr", title: "FCR (%)", value: (k) => (k.fcr === null || k.fcr === undefined ? null : Math.round(k.fcr * 100)) },
  { key: "csat", title: "CSAT (1-5)", value: (k) => k.csat },
  { key: "aht", title: "AHT (s)", value: (k) => k.aht_seconds },
  { key: "score", title: "Performance score", value: (k) => k.performance_score },
];

export function KpiCharts({ series }: { series: TimeSeries }) {
  const rows = series.points.map((point) => ({
    start: point.start,
    ...Object.fromEntries(CHARTS.map((chart) => [chart.key, chart.value(point.kpis)])),
  }));
  return (
    <div className="charts">
      {CHARTS.map((chart) => (
        <figure key={chart.key} className="chart" aria-label={`${chart.title} over time`}>
          <figcaption>{chart.title}</figcaption>
          <ResponsiveContainer width="100%" height={180}>
            <LineChart data={rows} margin={{ top: 5, right: 10, bottom: 5, left: 0 }}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="start" tick={{ fontSize: 11 }} minTickGap={20} />
              <YAxis tick={{ fontSize: 11 }} width={40} />
              <Tooltip />
              <Legend />
              <Line type="monotone" dataKey={chart.key} name={chart.title} stroke="#1f4e79" dot={false} connectNulls isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </figure>
      ))}
    </div>
  );
}
