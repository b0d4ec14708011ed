import { useState, type FormEvent } from "react";
import { api, ok } from "../../api/client";
import type { Agent, AgentIn, CatalogTool, KnowledgeEntry, ToolConfig } from "../../api/types";
import { ErrorNote } from "../../components/ErrorNote";
import { useLoad } from "../../components/useLoad";

interface Draft {
  name: string;
  phone_number: string;
  greeting: string;
  instructions: string;
  tag_taxonomy: string;
  tools: ToolConfig[];
  knowledge: KnowledgeEntry[];
}

const BLANK: Draft = { name: "", phone_number: "", greeting: "", instructions: "", tag_taxonomy: "", tools: [], knowledge: [] };

function draftOf(agent: Agent): Draft {
  return {
    name: agent.name,
    phone_number: agent.phone_number,
    greeting: agent.greeting,
    instructions: agent.instructions,
    tag_taxonomy: agent.tag_taxonomy.join(", "),
    tools: agent.tools,
    knowledge: agent.knowledge,
  };
}

export function AgentManagement() {
  const agents = useLoad(() => ok(api.GET("/api/agents")), []);
  const catalog = useLoad(() => ok(api.GET("/api/tool-catalog")), []);
  const [editing, setEditing] = useState<Agent | "new" | null>(null);
  const [notice, setNotice] = useState("");
  const [error, setError] = useState<unknown>(null);

  const remove = async (agent: Agent) => {
    if (!window.confirm(`Delete ${agent.name}? Its number stops answering.`)) return;
    try {
      await ok(api.DELETE("/api/agents/{agent_id}", { params: { path: { agent_id: agent.id } } }));
      setNotice(`Deleted ${agent.name}`);
      await agents.reload();
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Agents</h1>
        <button type="button" onClick={() => setEditing("new")}>New agent</button>
      </div>
      {notice && <p role="status" className="notice">{notice}</p>}
      <ErrorNote error={error ?? agents.error} />
      {editing && (
        <AgentEditor
          key={editing === "new" ? "new" : editing.id}
          agent={editing === "new" ? null : editing}
          catalog={catalog.data ?? []}
          onDone={async (message) => {
            setEditing(null);
            setNotice(message);
            await agents.reload();
          }}
          onCancel={() => setEditing(null)}
        />
      )}
      <ul className="cards">
        {agents.data?.map((agent) => (
          <li key={agent.id} className="card" aria-label={`Agent ${agent.name}`}>
            <h3>{agent.name}</h3>
            <p className="muted">{agent.phone_number} · {agent.tools.length} tools · {agent.knowledge.length} knowledge entries</p>
            <button type="button" className="secondary" onClick={() => setEditing(agent)}>Edit</button>{" "}
            <button type="button" className="danger" onClick={() => remove(agent)}>Delete</button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function AgentEditor({ agent, catalog, onDone, onCancel }: {
  agent: Agent | null;
  catalog: CatalogTool[];
  onDone: (message: string) => Promise<void>;
  onCancel: () => void;
}) {
  // A fresh draft per agent: the editor is keyed by the agent it edits.
  const [draft, setDraft] = useState<Draft>(agent ? draftOf(agent) : BLANK);
  const [error, setError] = useState<unknown>(null);

  const toolNamed = (name: string) => draft.tools.find((t) => t.name === name);
  const toggleTool = (tool: CatalogTool, on: boolean) =>
    setDraft({
      ...draft,
      tools: on
        ? [...draft.tools, { name: tool.name, description: tool.description, requires_approval: tool.approval_suggested, source: "builtin" }]
        : draft.tools.filter((t) => t.name !== tool.name),
    });
  const setApproval = (name: string, requires_approval: boolean) =>
    setDraft({ ...draft, tools: draft.tools.map((t) => (t.name === name ? { ...t, requires_approval } : t)) });

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const body: AgentIn = {
      ...draft,
      tag_taxonomy: draft.tag_taxonomy.split(",").map((t) => t.trim()).filter(Boolean),
    };
    try {
      if (agent) await ok(api.PATCH("/api/agents/{agent_id}", { params: { path: { agent_id: agent.id } }, body }));
      else await ok(api.POST("/api/agents", { body }));
      await onDone(agent ? `Saved ${draft.name}` : `Created ${draft.name}`);
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <form className="card editor" onSubmit={save} aria-label={agent ? `Edit ${agent.name}` : "New agent"}>
      <h2>{agent ? `Edit ${agent.name}` : "New agent"}</h2>
      <label>Name<input value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} required /></label>
      <label>Mock phone number<input value={draft.phone_number} onChange={(e) => setDraft({ ...draft, phone_number: e.target.value })} placeholder="+1-555-0199" required /></label>
      <label>Greeting<input value={draft.greeting} onChange={(e) => setDraft({ ...draft, greeting: e.target.value })} /></label>
      <label>Instructions<textarea rows={4} value={draft.instructions} onChange={(e) => setDraft({ ...draft, instructions: e.target.value })} /></label>
      <label>Tags (comma-separated)<input value={draft.tag_taxonomy} onChange={(e) => setDraft({ ...draft, tag_taxonomy: e.target.value })} /></label>
      <fieldset>
        <legend>Tools</legend>
        {catalog.map((tool) => (
          <div key={tool.name} className="tool-row">
            <label className="check">
              <input type="checkbox" checked={!!toolNamed(tool.name)} onChange={(e) => toggleTool(tool, e.target.checked)} />
              {tool.name} <small className="muted">{tool.description}</small>
            </label>
            {toolNamed(tool.name) && (
              <label className="check">
                <input type="checkbox" checked={toolNamed(tool.name)!.requires_approval} onChange={(e) => setApproval(tool.name, e.target.checked)} />
                needs my approval
              </label>
            )}
          </div>
        ))}
        {draft.tools.filter((t) => t.source === "mcp").map((t) => (
          <p key={t.name} className="muted">{t.name} (MCP, {t.requires_approval ? "needs approval" : "no approval"})</p>
        ))}
      </fieldset>
      <fieldset>
        <legend>Knowledge</legend>
        {draft.knowledge.map((entry, index) => (
          <div key={index} className="knowledge-row">
            <input aria-label={`Knowledge title ${index + 1}`} value={entry.title} onChange={(e) => setDraft({ ...draft, knowledge: draft.knowledge.map((k, i) => (i === index ? { ...k, title: e.target.value } : k)) })} required />
            <textarea aria-label={`Knowledge text ${index + 1}`} rows={2} value={entry.content} onChange={(e) => setDraft({ ...draft, knowledge: draft.knowledge.map((k, i) => (i === index ? { ...k, content: e.target.value } : k)) })} required />
            <button type="button" className="secondary" onClick={() => setDraft({ ...draft, knowledge: draft.knowledge.filter((_, i) => i !== index) })}>Remove</button>
          </div>
        ))}
        <button type="button" className="secondary" onClick={() => setDraft({ ...draft, knowledge: [...draft.knowledge, { title: "", content: "" }] })}>Add knowledge entry</button>
      </fieldset>
      <ErrorNote error={error} />
      <button type="submit">{agent ? "Save" : "Create agent"}</button>{" "}
      <button type="button" className="secondary" onClick={onCancel}>Cancel</button>
    </form>
  );
}
