// The server's answer names its data port by the address it was told to announce (its
// bind address unless configured). When that is not where the browser reached its
// WebSocket (a server bound to 0.0.0.0 announces 127.0.0.1), the host of the signaling URL
// is added as one more candidate on the same port: the data port is on the host that
// answered the WebSocket. Pure text, no I/O (the C++ client does the same in
// ServerLink::server_candidates).

// Adds a host candidate at `host` on the port of the answer's first UDP candidate, unless
// one is there already.
export function withSignalingHost(sdp: string, host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === '' || bare === 'localhost') return sdp;
  const lines = sdp.split(/\r?\n/);
  let port: string | undefined;
  let last = -1;
  for (let i = 0; i < lines.length; i++) {
    const fields = lines[i]!.split(' ');
    if (!lines[i]!.startsWith('a=candidate:') || fields.length < 8) continue;
    if (fields[2]!.toLowerCase() !== 'udp') continue;
    if (fields[4] === bare) return sdp;
    port ??= fields[5];
    last = i;
  }
  if (port === undefined) return sdp;
  // Foundation and priority below the server's own candidate, so that one is preferred.
  lines.splice(last + 1, 0, `a=candidate:2 1 udp 2130706175 ${bare} ${port} typ host`);
  return lines.join('\r\n');
}
