import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { api, ok } from "../../api/client";
import type { paths } from "../../generated/api";
import { ErrorNote } from "../../components/ErrorNote";
import { decimal, duration, when } from "../../components/format";
import { useLoad } from "../../components/useLoad";
import { useAuth } from "../../auth/AuthProvider";
import { PageHead } from "../../components/PageHead";
import { useEventStream } from "../../live/useEventStream";

// A newly archived call shows up without a reload: the admin's stream carries archive.saved; a
// supervisor's carries the "call ended" notification that follows their call's archiving.
const ADMIN_FEED = { path: "/api/stream/admin", types: ["archive.saved"] as const };
const SUPERVISOR_FEED = { path: "/api/stream/supervisor", types: ["notification.created"] as const };

type Sentiment = NonNullable<NonNullable<paths["/api/archive"]["get"]["parameters"]["query"]>["sentiment"]>;

interface Filters {
  q: string;
  agent_id: string;
  tag: string;
  sentiment: Sentiment | "";
  from: string;
  to: string;
}

const EMPTY: Filters = { q: "", agent_id: "", tag: "", sentiment: "", from: "", to: "" };

export function ArchiveBrowser() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [page, setPage] = useState(1);
  const agents = useLoad(() => ok(api.GET("/api/agents")), []);
  const results = useLoad(
    () =>
      ok(
        api.GET("/api/archive", {
          params: {
            query: {
              ...filters,
              sentiment: filters.sentiment || undefined, // "any"
              from: filters.from && `${filters.from}T00:00:00Z`,
              to: filters.to && `${filters.to}T23:59:59Z`,
              page,
              page_size: 20,
            },
          },
        }),
      ),
    [filters, page],
  );
  const { user } = useAuth();
  const feed = user?.role === "admin" ? ADMIN_FEED : SUPERVISOR_FEED;
  const live = useEventStream(feed.path, feed.types, (event) => {
    if (event.type === "archive.saved" || event.kind === "call_ended") void results.reload();
  });
  const search = (event: FormEvent) => {
    event.preventDefault();
    setPage(1);
    setFilters(draft);
  };
  const pages = results.data ? Math.max(1, Math.ceil(results.data.total / results.data.page_size)) : 1;
  return (
    <div className="page">
      <PageHead title="Call archive" status={live} label="New calls" />
      <form className="card filters" onSubmit={search} aria-label="Search the archive">
        <label>Words<input type="search" value={draft.q} onChange={(e) => setDraft({ ...draft, q: e.target.value })} placeholder="summary, caller, agent" /></label>
        <label>
          Agent
          <select value={draft.agent_id} onChange={(e) => setDraft({ ...draft, agent_id: e.target.value })}>
            <option value="">All agents</option>
            {agents.data?.map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
          </select>
        </label>
        <label>Tag<input value={draft.tag} onChange={(e) => setDraft({ ...draft, tag: e.target.value })} /></label>
        <label>
          Sentiment
          <select value={draft.sentiment} onChange={(e) => setDraft({ ...draft, sentiment: e.target.value as Filters["sentiment"] })}>
            <option value="">Any</option><option>negative</option><option>neutral</option><option>positive</option>
          </select>
        </label>
        <label>From<input type="date" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} /></label>
        <label>To<input type="date" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} /></label>
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={results.error} />
      {results.data && <p className="muted" role="status">{results.data.total}{results.data.total_is_lower_bound ? "+" : ""} calls</p>}
      <ul className="archive-list">
        {results.data?.items.map((item) => (
          <li key={item.call_id} className="card">
            <Link to={`/supervisor/archive/${item.call_id}`}>
              <strong>{item.agent_name}</strong> · {item.caller} · {when(item.started_at)}
            </Link>
            <p>{item.summary}</p>
            <p className="muted">
              {item.tags.map((t) => <span key={t} className="tag">{t}</span>)} CSAT {decimal(item.csat)} · FCR {item.fcr ? "yes" : "no"} ·{" "}
              {duration(item.handle_seconds)}
            </p>
          </li>
        ))}
      </ul>
      <nav className="pager" aria-label="Pages">
        <button type="button" className="secondary" disabled={page <= 1} onClick={() => setPage(page - 1)}>Previous</button>
        <span>Page {page} of {pages}</span>
        <button type="button" className="secondary" disabled={page >= pages} onClick={() => setPage(page + 1)}>Next</button>
      </nav>
    </div>
  );
}
