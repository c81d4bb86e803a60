// The drivers' defaults, by name: each option a caller leaves out takes one of these.

/** one virsh command, or one whole scan of a host */
export const COMMAND_TIMEOUT_MS = 30_000;
/** one migration, from `virsh migrate` until libvirt says it finished */
export const MIGRATE_TIMEOUT_MS = 6 * 3600_000;
/** output of one command or one scan: a host cannot fill our memory */
export const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** the virsh binary (on the host for SSH, local for libvirt) */
export const VIRSH = 'virsh';

/** how long a new persistent virsh session may take to answer before the SSH driver uses one-shot execs */
export const SESSION_START_TIMEOUT_MS = 10_000;
/** one-shot execs after a session failed to start, before trying again; doubles per failure… */
export const SESSION_RETRY_MS = 60_000;
/** …up to this */
export const SESSION_RETRY_MAX_MS = 3600_000;

export const SSH_CONNECT_TIMEOUT_MS = 10_000;
export const SSH_KEEPALIVE_INTERVAL_MS = 5_000;
/** keepalives unanswered before the connection counts as lost */
export const SSH_KEEPALIVE_COUNT_MAX = 3;
/** exec channels at once on one connection (sshd's MaxSessions is 10: the persistent session and the event stream need one each) */
export const SSH_MAX_CHANNELS = 8;
/** commands waiting for a channel before more are refused */
export const SSH_MAX_QUEUED = 1024;

/** first retry delay after a host's scan failed; doubles per failure… */
export const SCAN_BACKOFF_BASE_MS = 1000;
/** …up to this, or the scan interval when that is longer */
export const SCAN_BACKOFF_MAX_MS = 60_000;

/** the poll interval while a host's event stream flows (the safety net's pace; never shorter than scan.intervalS) */
export const EVENTS_POLL_INTERVAL_MS = 300_000;
/** an event stream open this long without ending counts as subscribed (virsh prints nothing when it is) */
export const EVENT_SETTLE_MS = 1000;
/** an event block waiting for more fields is complete after this much quiet */
export const EVENT_QUIET_MS = 50;
/** first restart delay after an event stream ended; doubles per failure… */
export const EVENT_RESTART_BASE_MS = 1000;
/** …up to this */
export const EVENT_RESTART_MAX_MS = 60_000;
/** lifecycle events are gathered this long after the last one before their rescan runs… */
export const EVENT_RESCAN_DEBOUNCE_MS = 250;
/** …but never longer than this after the first one (a storm still gets rescanned) */
export const EVENT_RESCAN_MAX_DELAY_MS = 2000;
/** more domains than this named by one batch of events: the whole host is rescanned */
export const EVENT_TARGETED_MAX = 16;
