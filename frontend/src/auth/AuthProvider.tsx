import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { anonymous, api, ApiError, ok, registerSessionSource, type Session } from "../api/client";
import type { Tokens, User } from "../api/types";

// Tokens live in localStorage so a reload keeps the user signed in; the access token is renewed a
// minute before it expires, and at once when the gateway says it is no longer valid.
const STORAGE_KEY = "cs-agents.session";
const REFRESH_AHEAD_MS = 60_000;

interface Stored extends Session {
  user: User;
}

interface AuthState {
  user: User | null;
  login(email: string, password: string): Promise<User>;
  logout(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

function load(): Stored | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Stored) : null;
  } catch {
    return null;
  }
}

function fromTokens(tokens: Tokens): Stored {
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    expiresAt: Date.now() + tokens.expires_in * 1000,
    user: tokens.user,
  };
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [stored, setStored] = useState<Stored | null>(load);
  const current = useRef(stored);
  const refreshing = useRef<Promise<Stored | null> | null>(null);

  const save = useCallback((next: Stored | null) => {
    current.current = next;
    if (next) localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    else localStorage.removeItem(STORAGE_KEY);
    setStored(next);
  }, []);

  const refresh = useCallback(async (): Promise<Stored | null> => {
    const session = current.current;
    if (!session) return null;
    refreshing.current ??= ok(anonymous.POST("/api/auth/refresh", { body: { refresh_token: session.refreshToken } }))
      .then((tokens) => {
        const next = fromTokens(tokens);
        save(next);
        return next;
      })
      .catch((failure) => {
        // Refused: the session ended (logout elsewhere, account removed). Unreachable: keep it, and the
        // next request that meets a 401 tries again.
        if (!(failure instanceof ApiError && failure.status === 0)) save(null);
        return null;
      })
      .finally(() => {
        refreshing.current = null;
      });
    return refreshing.current;
  }, [save]);

  useEffect(() => {
    registerSessionSource({ current: () => current.current, refresh });
    return () => registerSessionSource(null);
  }, [refresh]);

  useEffect(() => {
    if (!stored) return;
    const timer = setTimeout(() => void refresh(), Math.max(0, stored.expiresAt - Date.now() - REFRESH_AHEAD_MS));
    return () => clearTimeout(timer);
  }, [stored, refresh]);

  const value = useMemo<AuthState>(
    () => ({
      user: stored?.user ?? null,
      async login(email, password) {
        const tokens = await ok(anonymous.POST("/api/auth/login", { body: { email, password } }));
        save(fromTokens(tokens));
        return tokens.user;
      },
      async logout() {
        try {
          await ok(api.POST("/api/auth/logout"));
        } finally {
          save(null);
        }
      },
    }),
    [stored, save],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}
