import { useState, type FormEvent } from "react";
import { api, ok } from "../../api/client";
import type { SupervisorIn, SupervisorPatch } from "../../api/types";
import { ErrorNote } from "../../components/ErrorNote";
import { useLoad } from "../../components/useLoad";

export function SupervisorManagement() {
  const supervisors = useLoad(() => ok(api.GET("/api/supervisors")), []);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const [confirming, setConfirming] = useState<string | null>(null);

  const act = async (work: () => Promise<unknown>, done: string) => {
    setError(null);
    try {
      await work();
      setNotice(done);
      await supervisors.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const patch = (id: string, body: SupervisorPatch, done: string) =>
    act(() => ok(api.PATCH("/api/supervisors/{supervisor_id}", { params: { path: { supervisor_id: id } }, body })), done);

  return (
    <div className="page">
      <h1>Supervisors</h1>
      <CreateSupervisor onCreate={(body) => act(() => ok(api.POST("/api/supervisors", { body })), `Created ${body.email}`)} />
      <ErrorNote error={error ?? supervisors.error} />
      {notice && <p role="status" className="notice">{notice}</p>}
      <table className="table">
        <thead>
          <tr><th>Name</th><th>Email</th><th>Agents</th><th>Max agents</th><th>Status</th><th>Actions</th></tr>
        </thead>
        <tbody>
          {supervisors.data?.map((s) => (
            <tr key={s.id}>
              <td>
                <input
                  aria-label={`Name of ${s.email}`}
                  defaultValue={s.full_name}
                  onBlur={(e) => e.target.value !== s.full_name && patch(s.id, { full_name: e.target.value }, `Renamed ${s.email}`)}
                />
              </td>
              <td>{s.email}</td>
              <td>{s.agent_count}</td>
              <td>
                <input
                  type="number"
                  min={0}
                  max={100}
                  aria-label={`Max agents of ${s.email}`}
                  defaultValue={s.max_agents}
                  onBlur={(e) => Number(e.target.value) !== s.max_agents && patch(s.id, { max_agents: Number(e.target.value) }, `Updated ${s.email}`)}
                />
              </td>
              <td>{s.active ? "Active" : "Deactivated"}</td>
              <td className="actions">
                <button type="button" className="secondary" onClick={() => patch(s.id, { active: !s.active }, `${s.active ? "Deactivated" : "Reactivated"} ${s.email}`)}>
                  {s.active ? "Deactivate" : "Reactivate"}
                </button>
                {confirming === s.id ? (
                  <span role="group" aria-label={`Confirm deleting ${s.email}`}>
                    Delete {s.email} and their agents?{" "}
                    <button type="button" className="danger" onClick={() => { setConfirming(null); void act(() => ok(api.DELETE("/api/supervisors/{supervisor_id}", { params: { path: { supervisor_id: s.id } } })), `Deleted ${s.email}`); }}>
                      Yes, delete
                    </button>
                    <button type="button" className="secondary" onClick={() => setConfirming(null)}>Cancel</button>
                  </span>
                ) : (
                  <button type="button" className="danger" onClick={() => setConfirming(s.id)}>Delete</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CreateSupervisor({ onCreate }: { onCreate: (body: SupervisorIn) => Promise<void> }) {
  const [form, setForm] = useState({ email: "", full_name: "", password: "" });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    await onCreate(form);
    setForm({ email: "", full_name: "", password: "" });
  };
  return (
    <form className="card inline-form" onSubmit={submit} aria-label="New supervisor">
      <h2>New supervisor</h2>
      <label>Full name<input value={form.full_name} onChange={(e) => setForm({ ...form, full_name: e.target.value })} required /></label>
      <label>Email<input type="email" value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} required /></label>
      <label>
        Initial password
        <input type="password" minLength={8} autoComplete="new-password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} required />
      </label>
      <button type="submit">Create supervisor</button>
    </form>
  );
}
