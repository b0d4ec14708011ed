// Names for the generated REST and event types, so components read `Agent`, not the schema path.
import type { components } from "../generated/api";

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
