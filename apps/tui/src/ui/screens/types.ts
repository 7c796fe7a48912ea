import type { BerthClient } from "../../api";

export interface ScreenProps {
  client: BerthClient;
  width: number;
  height: number;
  /** The screen is shown and owns the keyboard. */
  active: boolean;
}
