/** The caller's account's view of event delivery (not audited actions: the catalog names none). */
export interface DeliveryStatus {
  /** Events of the account waiting for delivery (including ones being retried). */
  pending: number;
  /** Events parked after too many failed attempts. */
  dead: number;
  /** Age in ms of the oldest pending event: how far delivery lags behind. */
  lagMs: number;
  /**
   * The same per destination: the tracker first, then the destinations beside it
   * (BERTH_DESTINATIONS). The fields above are the tracker's.
   */
  destinations: DestinationStatus[];
}

export interface DestinationStatus {
  destination: string;
  pending: number;
  dead: number;
  lagMs: number;
}

export interface DeadLetter {
  /** The destination that gave up on it ("tracker" for the tracker). */
  destination: string;
  id: string;
  /** The event's region (of the resource). */
  region: string;
  action: string;
  attempts: number;
  /** Why the last attempt failed. */
  reason: string | null;
  deadAt: string | null;
  /** The event as it would be delivered. */
  event: unknown;
}
