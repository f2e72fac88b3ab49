// The dashboard page's script: reads the tenant's analytics and sending status from the /v1 JSON routes (authorised
// by the session cookie) and draws them with Chart.js (served from /dashboard/assets, no CDN).
'use strict';

const funnelSteps = [
  ['enrolled', 'Enrolled'],
  ['sent', 'Sent'],
  ['delivered', 'Delivered'],
  ['clicked', 'Clicked'],
  ['replied', 'Replied'],
  ['booked', 'Booked'],
];
const totalFields = [...funnelSteps, ['failed', 'Failed'], ['optedOut', 'Opted out'], ['expired', 'Expired']];
const rateFields = [
  ['delivered', 'Delivery rate'],
  ['replied', 'Reply rate'],
  ['booked', 'Booking rate'],
  ['optedOut', 'Opt-out rate'],
];
const waitingReasons = {
  kill_switch: 'Sending paused (kill switch)',
  number_rate: 'Number throughput',
  tenant_rate: 'Account throughput',
  warmup: 'New number warm-up',
  budget_daily: 'Daily budget spent',
  budget_monthly: 'Monthly budget spent',
};

/** Draws without animation: the numbers are there as soon as the data is. */
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

const byId = (id) => document.getElementById(id);
const percent = (rate) => (rate === null || rate === undefined ? '–' : `${(rate * 100).toFixed(1)}%`);

function element(tag, { text, testId, className } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (testId) node.dataset.testid = testId;
  if (className) node.className = className;
  node.append(...children);
  return node;
}

class RequestFailed extends Error {}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' } });
  if (response.status === 401) {
    window.location.assign('/dashboard/login');
    throw new RequestFailed('Your session ended: sign in again.');
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.error?.message ?? response.statusText;
    throw new RequestFailed(`${path.split('?')[0]} answered ${response.status}: ${message}`);
  }
  return body;
}

function showError(error) {
  const banner = byId('error');
  banner.textContent = `Could not load the dashboard. ${error instanceof RequestFailed ? error.message : String(error)}`;
  banner.hidden = false;
}

function funnelChart(canvas, totals) {
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: funnelSteps.map(([, label]) => label),
      datasets: [{ label: 'Leads', data: funnelSteps.map(([key]) => totals[key]), backgroundColor: '#2f6fb3' }],
    },
    options: {
      indexAxis: 'y',
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

function renderTotals(list, totals, prefix) {
  const tile = (label, value, testId) =>
    element('div', {}, [element('dt', { text: label }), element('dd', { text: value, testId })]);
  list.replaceChildren(
    ...totalFields.map(([key, label]) => tile(label, totals[key], `${prefix}-${key}`)),
    ...rateFields.map(([key, label]) => tile(label, percent(totals.rates[key]), `${prefix}-rate-${key}`)),
    tile(`Cost (${totals.cost.currency})`, totals.cost.total, `${prefix}-cost`),
  );
}

function renderDaily(days) {
  const series = [
    ['sent', 'Sent', '#2f6fb3'],
    ['replied', 'Replied', '#1b9e5a'],
    ['booked', 'Booked', '#c77c02'],
  ];
  return new Chart(byId('daily-chart'), {
    type: 'line',
    data: {
      labels: days.map((day) => day.date),
      datasets: series.map(([key, label, color]) => ({
        label,
        data: days.map((day) => day[key]),
        borderColor: color,
        backgroundColor: color,
      })),
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

function renderWaiting(sending) {
  const { waiting, killSwitch } = sending;
  const rows = Object.entries(waiting.byReason).map(([reason, count]) =>
    element('tr', {}, [
      element('td', { text: waitingReasons[reason] ?? reason }),
      element('td', { text: count, testId: `waiting-${reason}` }),
    ]),
  );
  byId('waiting').replaceChildren(
    element('p', {
      text: killSwitch.paused ? 'Sending is paused: nothing new goes out.' : 'Sending is on.',
      testId: 'kill-switch',
    }),
    element('p', {}, [
      document.createTextNode('Messages waiting for sending capacity: '),
      element('strong', { text: waiting.total, testId: 'waiting-total' }),
    ]),
    rows.length ? element('table', {}, [element('tbody', {}, rows)]) : element('span'),
  );
}

function variantTable(step) {
  // Weights are relative (1 to 1000 each): a variant's share is its weight over the step's sum.
  const weights = step.variants.reduce((sum, variant) => sum + variant.weight, 0);
  const share = (variant) => `${Math.round((variant.weight / weights) * 100)}%`;
  const header = element('tr', {}, [
    element('th', { text: `Step ${step.step + 1} (v${step.version})` }),
    ...step.variants.map((variant) => element('th', { text: `${variant.variant} (${share(variant)})` })),
  ]);
  const row = (label, value) =>
    element('tr', {}, [
      element('th', { text: label }),
      ...step.variants.map((variant) => element('td', { text: value(variant.totals) })),
    ]);
  const verdicts = step.comparisons.map((comparison) =>
    element('li', {
      text: `${comparison.a} vs ${comparison.b}: replies ${comparison.replyRate.verdict.replaceAll('_', ' ')}, bookings ${comparison.bookingRate.verdict.replaceAll('_', ' ')}`,
    }),
  );
  return element('div', { className: 'variants', testId: `variants-step-${step.step}` }, [
    element('table', {}, [
      element('thead', {}, [header]),
      element('tbody', {}, [
        row('Sent', (totals) => totals.sent),
        row('Replied', (totals) => `${totals.replied} (${percent(totals.rates.replied)})`),
        row('Booked', (totals) => `${totals.booked} (${percent(totals.rates.booked)})`),
        row('Opted out', (totals) => `${totals.optedOut} (${percent(totals.rates.optedOut)})`),
      ]),
    ]),
    element('ul', {}, verdicts),
  ]);
}

function renderSequence(sequence, detail) {
  const canvas = element('canvas', { testId: `sequence-funnel-${sequence.sequenceId}` });
  const totals = element('dl', { className: 'tiles' });
  renderTotals(totals, sequence.totals, `sequence-${sequence.sequenceId}`);
  const section = element('article', { className: 'sequence' }, [
    element('h3', { text: sequence.name }),
    totals,
    element('div', { className: 'chart' }, [canvas]),
    ...detail.steps.filter((step) => step.variants.length > 1).map(variantTable),
  ]);
  byId('sequences').append(section);
  funnelChart(canvas, sequence.totals);
}

async function load() {
  const range = new URLSearchParams(window.location.search);
  const query = new URLSearchParams();
  for (const name of ['from', 'to']) {
    const value = range.get(name);
    if (value) {
      query.set(name, value);
      document.querySelector(`#range input[name=${name}]`).value = value;
    }
  }
  const suffix = query.size ? `?${query}` : '';
  const [overview, sending] = await Promise.all([getJson(`/v1/analytics/overview${suffix}`), getJson('/v1/sending')]);
  byId('period').textContent = `${overview.from} to ${overview.to} (${overview.timeZone})`;
  renderTotals(byId('totals'), overview.totals, 'total');
  funnelChart(byId('funnel-chart'), overview.totals);
  renderDaily(overview.days);
  renderWaiting(sending);
  const details = await Promise.all(
    overview.sequences.map((sequence) =>
      getJson(`/v1/analytics/sequences/${encodeURIComponent(sequence.sequenceId)}${suffix}`),
    ),
  );
  overview.sequences.forEach((sequence, index) => renderSequence(sequence, details[index]));
  if (!overview.sequences.length) byId('sequences').append(element('p', { text: 'No messages in this period.' }));
}

load()
  .catch(showError)
  .finally(() => {
    const main = byId('dashboard');
    main.setAttribute('aria-busy', 'false');
    main.dataset.loaded = 'true';
  });
