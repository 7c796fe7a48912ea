import { baseConfig } from "@berth/vitest-config";

export default baseConfig;
