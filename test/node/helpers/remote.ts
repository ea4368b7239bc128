// The stand-in project lives with the stand-in (scripts/cf-api.ts), so the tests and the bench share it.
export { NAMESPACE_IDS, remoteProject, type RemoteProject } from "../../../scripts/cf-api.ts";
