import { lazy, Suspense, type ReactNode } from "react";
import { Navigate, NavLink, Route, Routes, useNavigate } from "react-router-dom";
import { useAuth } from "./auth/AuthProvider";
import { SupervisorManagement } from "./pages/admin/SupervisorManagement";
import { Dialer } from "./pages/dialer/Dialer";
import { Login } from "./pages/Login";
import { AgentManagement } from "./pages/supervisor/AgentManagement";
import { ArchiveBrowser } from "./pages/supervisor/ArchiveBrowser";
import { SupervisorDashboard } from "./pages/supervisor/SupervisorDashboard";

// The pages with charts load their charting library only when opened.
const AdminDashboard = lazy(() => import("./pages/admin/AdminDashboard").then((m) => ({ default: m.AdminDashboard })));
const ArchiveCall = lazy(() => import("./pages/supervisor/ArchiveCall").then((m) => ({ default: m.ArchiveCall })));

type Role = "admin" | "supervisor";

function home(role: Role | undefined): string {
  return role === "admin" ? "/admin" : role === "supervisor" ? "/supervisor" : "/login";
}

/** Signed in with one of ``roles``; anyone else goes to their own home (or to sign in). */
function Guard({ roles, children }: { roles: Role[]; children: ReactNode }) {
  const { user } = useAuth();
  if (!user) return <Navigate to="/login" replace />;
  if (!roles.includes(user.role as Role)) return <Navigate to={home(user.role as Role)} replace />;
  return <Shell>{children}</Shell>;
}

function Shell({ children }: { children: ReactNode }) {
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const links =
    user?.role === "admin"
      ? [
          ["/admin", "Dashboard"],
          ["/admin/supervisors", "Supervisors"],
          ["/supervisor/archive", "Archive"],
        ]
      : [
          ["/supervisor", "Live"],
          ["/supervisor/archive", "Archive"],
          ["/supervisor/agents", "Agents"],
        ];
  return (
    <div className="shell">
      <header className="topbar">
        <strong className="brand">CS Agents</strong>
        <nav aria-label="Main">
          {links.map(([to, label]) => (
            <NavLink key={to} to={to} end>
              {label}
            </NavLink>
          ))}
        </nav>
        <span className="who">{user?.email}</span>
        <button
          type="button"
          className="secondary"
          onClick={async () => {
            await logout().catch(() => undefined);
            navigate("/login");
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        <Suspense fallback={<p className="muted">Loading…</p>}>{children}</Suspense>
      </main>
    </div>
  );
}

export function App() {
  const { user } = useAuth();
  return (
    <Routes>
      <Route path="/" element={<Navigate to={home(user?.role as Role | undefined)} replace />} />
      <Route path="/login" element={<Login />} />
      <Route path="/dial" element={<Dialer />} />
      <Route path="/admin" element={<Guard roles={["admin"]}><AdminDashboard /></Guard>} />
      <Route path="/admin/supervisors" element={<Guard roles={["admin"]}><SupervisorManagement /></Guard>} />
      <Route path="/supervisor" element={<Guard roles={["supervisor"]}><SupervisorDashboard /></Guard>} />
      <Route path="/supervisor/agents" element={<Guard roles={["supervisor"]}><AgentManagement /></Guard>} />
      <Route path="/supervisor/archive" element={<Guard roles={["admin", "supervisor"]}><ArchiveBrowser /></Guard>} />
      <Route
        path="/supervisor/archive/:callId"
        element={<Guard roles={["admin", "supervisor"]}><ArchiveCall /></Guard>}
      />
      <Route path="*" element={<Navigate to="/" replace />} />
    </Routes>
  );
}
