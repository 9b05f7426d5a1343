import http from 'node:http';

/** What {@link httpRequest} resolves with. */
export interface HttpAnswer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * One HTTP request with exactly these headers, `Host` included (fetch does not let a caller set
 * it): for the Host checks of the visualizer and `/metrics`.
 *
 * @example
 * ```ts
 * const res = await httpRequest(`${url}/metrics`, { headers: { host: 'evil.example' } });
 * expect(res.status).toBe(403);
 * ```
 */
export function httpRequest(
  url: string,
  { method = 'GET', headers = {} }: { method?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}
