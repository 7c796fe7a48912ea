import { setupTestServer } from "@berth/db/testing";

export default setupTestServer;
