import { useState } from "react";
import { api, ok } from "../../api/client";
import type { LiveCall } from "../../api/types";
import { useAuth } from "../../auth/AuthProvider";
import { ErrorNote } from "../../components/ErrorNote";

/**
 * The live calls a person has taken over, platform-wide: who has each, and a hand-back for the admin,
 * since its holder may have walked away (the API lets an admin hand back anyone's call).
 */
export function TakenOverCalls({ calls, supervisorName, onHandedBack }: {
  calls: LiveCall[]; supervisorName: (id: string) => string; onHandedBack: (callId: string) => void;
}) {
  if (calls.length === 0) return <p className="muted">None: every live call is with its agent.</p>;
  return (
    <ul className="cards">
      {calls.map((call) => <TakenOverCall key={call.id} call={call} supervisor={supervisorName(call.supervisor_id)} onHandedBack={onHandedBack} />)}
    </ul>
  );
}

function TakenOverCall({ call, supervisor, onHandedBack }: { call: LiveCall; supervisor: string; onHandedBack: (callId: string) => void }) {
  const { user } = useAuth();
  const [error, setError] = useState<unknown>(null);
  const [handing, setHanding] = useState(false);
  const mine = call.taken_over_by === user?.id;
  const holder = call.taken_over_by_name ?? "Another supervisor";
  const handBack = async () => {
    // It takes the call from a colleague who may be in the middle of a sentence: ask first.
    if (!mine && !window.confirm(`Hand this call back to ${call.agent_name}? ${holder} is handling it and will lose it.`)) return;
    setError(null);
    setHanding(true);
    try {
      await ok(api.POST("/api/calls/{call_id}/handback", { params: { path: { call_id: call.id } }, body: { instructions: null } }));
      onHandedBack(call.id);
    } catch (failure) {
      setError(failure);
    } finally {
      setHanding(false);
    }
  };
  return (
    <li className="card" aria-label={`Taken over: ${call.agent_name} with ${call.caller}`}>
      <p className="notice" role="status">{mine ? "You have this call" : `${holder} has this call`}</p>
      <p className="muted">{call.agent_name} · {call.caller} · {call.channel} · {supervisor}'s floor</p>
      <button type="button" onClick={() => void handBack()} disabled={handing}>Hand back</button>
      <ErrorNote error={error} />
    </li>
  );
}
