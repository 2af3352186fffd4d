// Drives tests/interop/webrtc_peer.cpp over its JSON-lines stdin/stdout.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export class NativePeer {
  constructor(binary, bind) {
    this.child = spawn(binary, [bind], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.events = [];
    this.waiters = [];
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const event = JSON.parse(line);
      this.events.push(event);
      this.waiters = this.waiters.filter((w) => !w(event));
    });
  }
  send(command) { this.child.stdin.write(JSON.stringify(command) + '\n'); }
  // Resolves with the first event (past or future) matching `predicate`.
  next(predicate, what, timeoutMs = 60000) {
    const seen = this.events.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push((e) => {
        if (!predicate(e)) return false;
        clearTimeout(timer);
        resolve(e);
        return true;
      });
    });
  }
  close() { this.child.stdin.end(); this.child.kill(); }
}
