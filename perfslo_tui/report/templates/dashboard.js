// The only script on the page (allowed by its hash in the CSP). It marks the
// page as rendered by its own script, so a test can tell that page scripts
// run while nothing injected does, and shows times in the reader's zone.
document.documentElement.dataset.perfslo = "ready";
for (const el of document.querySelectorAll("time[datetime]")) {
  const when = new Date(el.getAttribute("datetime"));
  if (!Number.isNaN(when.getTime())) el.title = when.toLocaleString();
}
