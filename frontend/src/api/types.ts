// Names for the generated REST and event types, so components read `Agent`, not the schema path.
import type { components } from "../generated/api";
import type { PlatformEvent } from "../generated/events";

type Schemas = components["schemas"];
export type User = Schemas["UserOut"];
export type Tokens = Schemas["TokensOut"];
export type Supervisor = Schemas["SupervisorOut"];
export type SupervisorIn = Schemas["SupervisorIn"];
export type SupervisorPatch = Schemas["SupervisorPatch"];
export type Agent = Schemas["AgentOut"];
export type AgentIn = Schemas["AgentIn"];
export type AgentPatch = Schemas["AgentPatch"];
export type ToolConfig = Schemas["ToolConfig"];
export type KnowledgeEntry = Schemas["KnowledgeEntry"];
export type ArchivePage = Schemas["ArchivePage"];
export type ArchiveItem = Schemas["ArchiveItem"];
export type ArchiveDetail = Schemas["ArchiveDetail"];
export type Notification = Schemas["NotificationOut"];
export type Overview = Schemas["Overview"];
export type SupervisorCard = Schemas["SupervisorCard"];
export type LiveCall = Schemas["LiveCall"];
export type LiveCallDetail = Schemas["LiveCallDetail"];
export type ToolDecision = Schemas["ToolDecision"];
export type CallIn = Schemas["CallIn"];
export type CallOut = Schemas["CallOut"];
export type DirectoryEntry = Schemas["DirectoryEntry"];
export type KpiReport = Schemas["KpiReport"];
export type Kpis = Schemas["Kpis"];
export type Leaderboard = Schemas["Leaderboard"];
export type TimeSeries = Schemas["TimeSeries"];
export type LiveFloor = Schemas["LiveFloor"];
export type FloorCounters = Schemas["FloorCounters"];
export type CatalogTool = Schemas["CatalogTool"];
export type PlatformHealth = Schemas["HealthReport"];
export type DeadLetterPage = Schemas["DeadLetterPage"];
export type Replayed = Schemas["Replayed"];
export type LiveKitJoin = Schemas["LiveKitJoin"];
export type TakenOver = Schemas["TakenOver"];

export type {
  AgentStatusChanged,
  ArchiveSaved,
  CallEnded,
  CallQueued,
  CallStarted,
  LiveCounters,
  NotificationCreated,
  PlatformEvent,
  SatisfactionScore,
  SentimentScore,
  ToolPermissionDecision,
  ToolPermissionRequest,
  TranscriptChunk,
  WhisperAck,
} from "../generated/events";

/** The name of a bus event, which is also its name on the live streams (SSE `event:`). */
export type EventType = NonNullable<PlatformEvent["type"]>;

/**
 * One event of a live stream, typed by its name: a `switch (event.type)` narrows it to that event's
 * fields. The generated types leave `type` optional (it has a default in the contract); on a stream
 * it is always there.
 */
export type StreamEvent<T extends EventType = EventType> = {
  [K in T]: Extract<PlatformEvent, { type?: K }> & { type: K };
}[T];
