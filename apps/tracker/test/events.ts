export { lineOf, makeEvent } from "@berth/tracker-client/testing";
