/** Placeholder until the site issue lands: answers 501 so the dry-run build has an entry point. */
export default {
  fetch(): Response {
    return Response.json({ error: "not_implemented", message: "edgekv-site is not built yet" }, { status: 501 });
  },
} satisfies ExportedHandler;
