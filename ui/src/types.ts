// The API's types, generated from docs/openapi.json into api.gen.ts (`npm run gen:types`;
// CI fails when it is stale). Names here are the ones the UI code uses.
import type { components } from './api.gen';

type Schemas = components['schemas'];

export type Profile = Schemas['ProfileView'];
export type Level = Profile['level'];
export type Row = Schemas['TorrentRow'];
export type TorrentState = Row['state'];
export type Details = Schemas['TorrentDetails'];
export type FileRow = Schemas['FileRow'];
export type PeerRow = Schemas['PeerRow'];
export type TrackerRow = Schemas['TrackerRow'];
export type Account = Schemas['Account'];
export type SessionInfo = Schemas['SessionView'];
export type Me = Schemas['Me'];
export type ProfileStats = Schemas['ProfileStats'];
export type Stats = Schemas['Stats'];
export type User = Schemas['UserView'];
export type Token = Schemas['TokenView'];
export type CreationView = Schemas['CreationView'];
export type DirEntry = Schemas['DirEntry'];
export type Settings = Schemas['SettingsView'];
export type SettingsPatch = Schemas['SettingsPatch'];
export type SpeedSettings = Schemas['SpeedSettings'];
export type Schedule = Schemas['Schedule'];
export type GlobalLimits = Schemas['GlobalLimits'];
export type ShareLimits = Schemas['ShareLimits'];
export type TorrentPatch = Schemas['TorrentPatch'];
export type ProfilePatch = Schemas['ProfilePatch'];
export type AddResponse = Schemas['AddResponse'];
export type Notice = Schemas['Notice'];
export type NoticeKind = Schemas['NoticeKind'];
export type Notifications = Schemas['Notifications'];
export type AuditEntry = Schemas['AuditEntry'];
export type AuditPage = Schemas['AuditPage'];
export type History = Schemas['History'];
export type Webhook = Schemas['WebhookView'];
export type WebhookInput = Schemas['WebhookInput'];
export type Delivery = Schemas['Delivery'];
export type BackupStatus = Schemas['BackupStatus'];
/** The backup schedule of `GET /api/settings` (`backup`). */
export type BackupSchedule = Schemas['BackupSchedule'];
export function backupOf(s: Settings): BackupSchedule {
  return s.backup;
}
export type Feed = Schemas['FeedView'];
export type NewFeed = Schemas['NewFeed'];
export type FeedInput = Schemas['FeedInput'];
export type FeedItem = Schemas['FeedItem'];
export type Rule = Schemas['RuleView'];
export type RuleSpec = Schemas['RuleSpec'];
export type RuleInput = Schemas['RuleInput'];
export type PreviewItem = Schemas['PreviewItem'];
export type Grab = Schemas['Grab'];
