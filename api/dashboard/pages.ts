// The dashboard's two HTML documents. Everything dynamic is escaped; the page's behaviour lives in assets/dashboard.js
// (the Content-Security-Policy allows scripts from this origin only, none inline).

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

const layout = (title: string, body: string, scripts: string[] = []) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="/dashboard/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/assets/dashboard.css">
${scripts.map((src) => `<script src="${src}" defer></script>`).join('\n')}
</head>
<body>
${body}
</body>
</html>
`;

export function loginPage({ error }: { error?: string } = {}): string {
  return layout(
    'Sign in · Lead follow-up dashboard',
    `<main class="login">
<h1>Lead follow-up dashboard</h1>
<form method="post" action="/dashboard/login">
<label for="apiKey">Tenant API key</label>
<input id="apiKey" name="apiKey" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
${error ? `<p class="error" role="alert" data-testid="login-error">${escapeHtml(error)}</p>` : ''}
</form>
</main>`,
  );
}

export function dashboardPage({ tenantName, temporalUiUrl }: { tenantName: string; temporalUiUrl: string }): string {
  return layout(
    `${tenantName} · Lead follow-up dashboard`,
    `<header>
<h1>${escapeHtml(tenantName)}</h1>
<form id="range" method="get" action="/dashboard">
<label>From <input type="date" name="from"></label>
<label>To <input type="date" name="to"></label>
<button type="submit">Show</button>
</form>
<nav>
<a href="${escapeHtml(temporalUiUrl)}" rel="noopener" title="For operators: the workflows behind these numbers">Temporal UI</a>
<form method="post" action="/dashboard/logout"><button type="submit">Sign out</button></form>
</nav>
</header>
<p id="error" class="error" role="alert" data-testid="dashboard-error" hidden></p>
<main id="dashboard" aria-busy="true">
<section id="overview"><h2>Overview <span id="period" data-testid="period"></span></h2>
<dl id="totals" class="tiles"></dl>
<div class="chart"><canvas id="funnel-chart" data-testid="funnel-chart" aria-label="Funnel"></canvas></div>
</section>
<section><h2>Day by day</h2><div class="chart"><canvas id="daily-chart" data-testid="daily-chart" aria-label="Sends, replies and bookings per day"></canvas></div></section>
<section><h2>Waiting to send</h2><div id="waiting" data-testid="waiting"></div></section>
<section><h2>Sequences</h2><div id="sequences"></div></section>
</main>`,
    ['/dashboard/assets/chart.umd.min.js', '/dashboard/assets/dashboard.js'],
  );
}
