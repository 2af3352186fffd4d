// The `on(event, listener)` / `off(event, listener)` shape of the public objects (as in
// the ACS Web SDK). A listener that throws does not stop the others or the SDK: the error
// is reported on the console.

// Event name → the listener's argument list.
export type EventMap = Record<string, unknown[]>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

export class Emitter<Events extends EventMap> {
  // Each set holds listeners of its own event's type; stored untyped.
  private readonly listeners = new Map<keyof Events, Set<Listener>>();

  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener);
  }

  off<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): void {
    this.listeners.get(event)?.delete(listener as Listener);
  }

  // For the SDK: calls each listener of `event` in the order they were added.
  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (e) {
        console.error(`switchboard: a '${String(event)}' listener threw`, e);
      }
    }
  }

  // For the SDK: after leaving, nothing more is heard.
  removeAllListeners(): void {
    this.listeners.clear();
  }
}
