import { baseConfig } from "@berth/vitest-config";
import { mergeConfig } from "vitest/config";

export default mergeConfig(baseConfig, {
  test: { globalSetup: ["./test/global-setup.ts"], setupFiles: ["./test/react-errors.ts"] },
});
