import { setupTestServer } from "../src/testing";

export default setupTestServer;
