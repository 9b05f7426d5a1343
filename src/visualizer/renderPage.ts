/** @internal What the HTML shell needs to know. */
export interface PageConfig {
  path: string;
  allowSend: boolean;
  title: string;
}

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/**
 * @internal
 * The page's HTML shell. It is generated here rather than shipped as a file because it carries
 * the mount path and options; they travel as `data-` attributes, since the page's Content
 * Security Policy allows no inline script.
 */
export function renderPage(config: PageConfig): string {
  const path = escapeHtml(config.path);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(config.title)}</title>
<link rel="stylesheet" href="${path}/app.css">
<script type="module" src="${path}/app.js"></script>
</head>
<body data-path="${path}" data-allow-send="${config.allowSend}">
<noscript>The session visualizer needs JavaScript.</noscript>
</body>
</html>
`;
}
