import { Link, useParams } from "react-router-dom";
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, ok } from "../../api/client";
import { ErrorNote } from "../../components/ErrorNote";
import { brainName, decimal, duration, when } from "../../components/format";
import { useLoad } from "../../components/useLoad";

export function ArchiveCall() {
  const { callId = "" } = useParams();
  const call = useLoad(() => ok(api.GET("/api/archive/{call_id}", { params: { path: { call_id: callId } } })), [callId]);
  const detail = call.data;
  // The document types the timeline's points as free-form objects; each carries a numeric score.
  const timeline = (detail?.sentiment_timeline ?? [])
    .map((point) => point.score)
    .filter((score): score is number => typeof score === "number")
    .map((score, index) => ({ n: index + 1, score }));
  return (
    <div className="page">
      <p><Link to="/supervisor/archive">← Archive</Link></p>
      <ErrorNote error={call.error} />
      {detail && (
        <>
          <h1>{detail.agent_name} · {detail.caller}</h1>
          <p className="muted">{when(detail.started_at)} · {duration(detail.handle_seconds)} · {detail.channel}</p>
          <section className="card" aria-labelledby="summary-title">
            <h2 id="summary-title">Summary</h2>
            <p data-testid="summary">{detail.summary}</p>
            <p>{detail.tags.map((t) => <span key={t} className="tag">{t}</span>)}</p>
            <dl className="facts">
              <dt>CSAT</dt><dd>{decimal(detail.csat)}</dd>
              <dt>FCR</dt><dd>{detail.fcr ? "yes" : "no"}</dd>
              <dt>Resolved</dt><dd>{detail.resolved ? "yes" : "no"}</dd>
              <dt>Answered by</dt><dd data-testid="brain">{brainName(detail.brain)}</dd>
              <dt>Summary by</dt><dd>{detail.summary_source}</dd>
            </dl>
          </section>
          <section className="card" aria-labelledby="timeline-title">
            <h2 id="timeline-title">Sentiment timeline</h2>
            {timeline.length ? (
              <figure className="chart" aria-label="Customer sentiment during the call">
                <ResponsiveContainer width="100%" height={180}>
                  <LineChart data={timeline}>
                    <CartesianGrid strokeDasharray="3 3" />
                    <XAxis dataKey="n" />
                    <YAxis domain={[-1, 1]} />
                    <Tooltip />
                    <Line dataKey="score" stroke="#1f4e79" dot isAnimationActive={false} />
                  </LineChart>
                </ResponsiveContainer>
              </figure>
            ) : (
              <p className="muted">No sentiment was recorded.</p>
            )}
          </section>
          <section className="card" aria-labelledby="tools-title">
            <h2 id="tools-title">Tool decisions</h2>
            {detail.tool_requests.length === 0 && <p className="muted">No tools were used.</p>}
            <ul>
              {detail.tool_requests.map((t) => (
                <li key={t.id}><strong>{t.tool_name}</strong> {JSON.stringify(t.arguments)} — {t.status}{t.note ? ` (${t.note})` : ""}</li>
              ))}
            </ul>
          </section>
          <section className="card" aria-labelledby="transcript-title">
            <h2 id="transcript-title">Transcript</h2>
            <div className="transcript">
              {detail.transcript.map((line) => (
                <p key={line.seq} className={`line line-${line.speaker}`}><b>{line.speaker}:</b> {line.text}</p>
              ))}
            </div>
          </section>
        </>
      )}
    </div>
  );
}
