/**
 * The checker of the Jepsen-style test: from what the clients were told (acknowledged items), what
 * the sessions hold at the end, the activation log and the views, it counts what went wrong.
 */

/** One line of the activation log: a session's `add`, processed by an activation at a time. */
export interface ActivationEntry {
  sessionId: string;
  activation: string;
  /** `process.hrtime.bigint()`: the machine's monotonic clock, the same in every process. */
  at: bigint;
  item: string;
}

export interface CheckInput {
  /** Items acknowledged to a client, by session. */
  acked: Map<string, string[]>;
  /** Items each session holds at the end. */
  final: Map<string, string[]>;
  log: ActivationEntry[];
  /** Views that saw a version not newer than the previous one, summed over nodes. */
  viewRegressions: number;
}

export interface CheckResult {
  lost: string[];
  duplicated: string[];
  /** Sessions in which an activation processed an event after another activation had started. */
  overlaps: { sessionId: string; activation: string; after: string }[];
  /**
   * The documented residual window (docs/cluster.md): an activation paused inside a step finishes
   * that one step after another activation began; its effects were fenced at its write (the item
   * is not in the session, or is there only as another activation applied it on the call's retry).
   * Counted, not a failure.
   */
  residual: { sessionId: string; activation: string; item: string }[];
  viewRegressions: number;
  ok: boolean;
}

export function parseLog(text: string): ActivationEntry[] {
  const out: ActivationEntry[] = [];
  for (const line of text.split('\n')) {
    const [sessionId, activation, at, item] = line.split(' ');
    if (sessionId && activation && at && item !== undefined)
      out.push({ sessionId, activation, at: BigInt(at), item });
  }
  return out;
}

export function check(input: CheckInput): CheckResult {
  const lost: string[] = [];
  const duplicated: string[] = [];
  for (const [id, items] of input.acked) {
    const have = new Set(input.final.get(id) ?? []);
    for (const item of items) if (!have.has(item)) lost.push(`${id}:${item}`);
  }
  for (const [id, items] of input.final) {
    const seen = new Set<string>();
    for (const item of items) {
      if (seen.has(item)) duplicated.push(`${id}:${item}`);
      seen.add(item);
    }
  }
  // One session's activations must follow each other: once another activation has processed an
  // event, an earlier one never processes one again.
  const overlaps: CheckResult['overlaps'] = [];
  const residual: CheckResult['residual'] = [];
  const bySession = new Map<string, ActivationEntry[]>();
  for (const e of input.log) {
    let list = bySession.get(e.sessionId);
    if (!list) bySession.set(e.sessionId, (list = []));
    list.push(e);
  }
  for (const [sessionId, entries] of bySession) {
    entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    const done = new Set<string>();
    /** Entries of activations that ran again after a later one had started. */
    const late = new Map<string, { after: string; items: string[] }>();
    let current: string | undefined;
    for (const e of entries) {
      if (done.has(e.activation)) {
        // A stale activation acts again: the later one stays the current one.
        const l = late.get(e.activation) ?? { after: current!, items: [] };
        l.items.push(e.item);
        late.set(e.activation, l);
        continue;
      }
      if (e.activation === current) continue;
      if (current !== undefined) done.add(current);
      current = e.activation;
    }
    const final = new Set(input.final.get(sessionId) ?? []);
    for (const [activation, { after, items }] of late) {
      const item = items[0]!;
      // The stale step's write was fenced when its item is not in the session, or when the item
      // is there because another activation applied it too (the call retried where the session
      // went, under its idempotency ID): duplicates are counted apart, so that copy is the
      // later activation's, not the stale step's.
      const reapplied = entries.some((e) => e.item === item && e.activation !== activation);
      if (items.length === 1 && (!final.has(item) || reapplied))
        residual.push({ sessionId, activation, item });
      else overlaps.push({ sessionId, activation, after });
    }
  }
  return {
    lost,
    duplicated,
    overlaps,
    residual,
    viewRegressions: input.viewRegressions,
    ok:
      lost.length === 0 &&
      duplicated.length === 0 &&
      overlaps.length === 0 &&
      input.viewRegressions === 0,
  };
}
