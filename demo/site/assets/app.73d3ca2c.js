// Shows which site version served this page (the Worker sets x-edgekv-site-version).
const target = document.querySelector("[data-version]");
fetch(location.pathname, { cache: "no-store" })
  .then((res) => {
    target.textContent = res.headers.get("x-edgekv-site-version") ?? "unknown";
  })
  .catch(() => {
    target.textContent = "unknown";
  });
