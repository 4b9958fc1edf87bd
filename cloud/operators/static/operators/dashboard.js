// The admin dashboard's charts (Chart.js, served from Debian's libjs-chart.js).
(function () {
  "use strict";
  const data = (id) => JSON.parse(document.getElementById(id).textContent);
  const common = { responsive: true, maintainAspectRatio: false, animation: false };
  const palette = ["#5cb85c", "#d9534f", "#f0ad4e", "#417690", "#5bc0de", "#777777", "#9b59b6", "#34495e"];

  const capacity = data("capacity-data");
  document.querySelectorAll("canvas.capacity-chart").forEach((canvas) => {
    const rc = canvas.dataset.resourceClass;
    const c = capacity[rc];
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: c.hosts,
        datasets: [
          { label: "used", data: c.used, backgroundColor: "#d9534f", stack: "s" },
          { label: "free", data: c.free, backgroundColor: "#5cb85c", stack: "s" },
        ],
      },
      options: { ...common, indexAxis: "y", scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } } },
    });
  });

  const byState = data("state-data");
  new Chart(document.getElementById("by-state"), {
    type: "doughnut",
    data: { labels: Object.keys(byState), datasets: [{ data: Object.values(byState), backgroundColor: palette }] },
    options: common,
  });

  const byProject = data("project-data");
  new Chart(document.getElementById("by-project"), {
    type: "bar",
    data: {
      labels: byProject.map((row) => row[0]),
      datasets: [{ label: "instances", data: byProject.map((row) => row[1]), backgroundColor: "#417690" }],
    },
    options: { ...common, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });

  const timeline = data("timeline-data");
  new Chart(document.getElementById("builds"), {
    type: "line",
    data: {
      labels: timeline.labels,
      datasets: [
        { label: "builds / min", data: timeline.builds, borderColor: "#417690", pointRadius: 0 },
        { label: "failures / min", data: timeline.failures, borderColor: "#d9534f", pointRadius: 0 },
      ],
    },
    options: { ...common, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });

  const queues = data("queue-data");
  new Chart(document.getElementById("queues"), {
    type: "bar",
    data: {
      labels: Object.keys(queues),
      datasets: [{ label: "messages waiting", data: Object.values(queues), backgroundColor: "#f0ad4e" }],
    },
    options: { ...common, indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
})();
