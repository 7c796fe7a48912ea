/** The app's screens, in the order of their number keys and tabs. */
export const SCREENS = [
  { id: "namespaces", title: "Namespaces" },
  { id: "images", title: "Images" },
  { id: "tokens", title: "Tokens" },
  { id: "quota", title: "Quota" },
  { id: "exemptions", title: "Exemptions" },
  { id: "events", title: "Events" },
  { id: "delivery", title: "Delivery" },
  { id: "build", title: "Build" },
  { id: "trash", title: "Trash" },
] as const;
export type ScreenId = (typeof SCREENS)[number]["id"];
