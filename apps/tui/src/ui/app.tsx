import { Box, Text, useApp, useStdout } from "ink";
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { type BerthClient, connect as defaultConnect, errorMessage } from "../api";
import { maskKey } from "../config";
import { truncate } from "../format";
import { BuildSession, RUNNING } from "./build-session";
import { Form, HelpBar, StatusLine } from "./components";
import {
  type HelpItem,
  UiContext,
  type UiEnv,
  useCapture,
  useKeys,
  useLoad,
  useStableInput,
} from "./context";
import { BuildScreen } from "./screens/build";
import { DeliveryScreen } from "./screens/delivery";
import { EventsScreen } from "./screens/events";
import { ExemptionsScreen } from "./screens/exemptions";
import { type ImageFilter, ImagesScreen } from "./screens/images";
import { NamespacesScreen } from "./screens/namespaces";
import { QuotaScreen } from "./screens/quota";
import { SCREENS, type ScreenId } from "./screens/registry";
import { TokensScreen } from "./screens/tokens";
import { TrashScreen } from "./screens/trash";
import { Tabs } from "./tabs";

export interface Connection {
  url?: string;
  apiKey?: string;
}

export interface AppProps {
  connection: Connection;
  /** Region → endpoint URL, as the config file knows them. */
  regions: Record<string, string>;
  /** False when stdin is not a terminal: then no key is read. */
  interactive: boolean;
  /** Remember a region switch or a login (the config file); absent: nothing is saved. */
  save?(change: { region: string; url: string; apiKey?: string }): void;
  connect?(url: string, apiKey: string | undefined): BerthClient;
  initialScreen?: ScreenId;
  /** Items a list screen fetches at a time; the server's default when absent. */
  pageSize?: number;
  /** Called when the user quits, before the app unmounts. */
  onQuit?(): void;
}

type Overlay = "none" | "region" | "login";

export function App(props: AppProps) {
  const connectTo = props.connect ?? defaultConnect;
  const { exit } = useApp();
  const { stdout } = useStdout();
  const [size, setSize] = useState({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
  useEffect(() => {
    const onResize = () => setSize({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
    stdout.on("resize", onResize);
    return () => {
      stdout.off("resize", onResize);
    };
  }, [stdout]);
  const [connection, setConnection] = useState<Connection>(props.connection);
  const [regions, setRegions] = useState(props.regions);
  const [overlay, setOverlay] = useState<Overlay>(
    props.connection.url && props.connection.apiKey ? "none" : "login",
  );
  const [screen, setScreen] = useState<ScreenId>(props.initialScreen ?? "namespaces");
  const [imageFilter, setImageFilter] = useState<ImageFilter>({});
  // The count is read when a key arrives (the ref) and drawn in the help bar (the state).
  const captured = useRef(0);
  const [captures, setCaptures] = useState(0);
  const [help, setHelp] = useState<HelpItem[]>([]);
  const capture = useCallback(() => {
    setCaptures(++captured.current);
    return () => setCaptures(--captured.current);
  }, []);
  const client = useMemo(
    () => (connection.url ? connectTo(connection.url, connection.apiKey) : undefined),
    [connection.url, connection.apiKey, connectTo],
  );
  // The build screen's build outlives the screen (it goes on while others are shown), not
  // the connection: another region or key cancels it.
  const builds = useMemo(
    () =>
      client && connection.url
        ? new BuildSession(client, { url: connection.url, apiKey: connection.apiKey })
        : undefined,
    [client, connection.url, connection.apiKey],
  );
  useEffect(() => () => builds?.cancel(), [builds]);
  const building = useSyncExternalStore(builds?.subscribe ?? noSubscription, () =>
    builds ? RUNNING.includes(builds.get().phase) : false,
  );
  const ui: UiEnv = useMemo(
    () => ({
      interactive: props.interactive,
      capture,
      setHelp,
      ...(connection.url ? { url: connection.url } : {}),
      ...(props.pageSize ? { pageSize: props.pageSize } : {}),
    }),
    [props.interactive, capture, connection.url, props.pageSize],
  );
  const connKey = `${connection.url}|${connection.apiKey}`;
  const info = useLoad(async () => {
    if (!client) return undefined;
    const [region, who] = await Promise.all([client.region.query(), client.whoami.query()]);
    return { region: region.region, who };
  }, connKey);

  const globalKeys = overlay === "none" && captures === 0;
  // Not useKeys: the app sits outside its own UiContext provider. Subscribed for the app's
  // life and asked at each key: a subscription that followed `globalKeys` would start in an
  // effect after the frame that shows the keys, and a key typed in between reached nobody.
  // Ink asks handlers in the order they subscribed, so a view that captures (mounted after
  // the app) sees its q after the app has declined it: q closes the view, not the app.
  useStableInput((input, key) => {
    if (overlay !== "none" || captured.current > 0) return;
    if (input === "q") {
      props.onQuit?.();
      exit();
    } else if (/^[1-9]$/.test(input)) setScreen(SCREENS[Number(input) - 1]!.id);
    else if (key.tab) {
      const at = SCREENS.findIndex((s) => s.id === screen);
      const next = (at + (key.shift ? SCREENS.length - 1 : 1)) % SCREENS.length;
      setScreen(SCREENS[next]!.id);
    } else if (input === "g") setOverlay("region");
    else if (input === "L") setOverlay("login");
  }, props.interactive);

  const { cols, rows } = size;
  const width = cols;
  // One line short of the terminal: Ink redraws the whole screen when output fills it.
  const contentHeight = Math.max(6, rows - 4);
  const region = info.data?.region ?? (connection.url ? "…" : "not connected");
  const who = info.data?.who;

  const screenProps = client
    ? { client, width, height: contentHeight, active: overlay === "none" }
    : undefined;
  let body: React.ReactNode = null;
  if (overlay === "region") {
    body = (
      <RegionPicker
        regions={regions}
        current={info.data?.region}
        width={width}
        onCancel={() => setOverlay("none")}
        onPick={(r) => {
          setOverlay("none");
          const url = regions[r]!;
          setConnection((c) => ({ ...c, url }));
          props.save?.({ region: r, url });
        }}
      />
    );
  } else if (overlay === "login") {
    body = (
      <Login
        connection={connection}
        width={width}
        connect={connectTo}
        onCancel={connection.url && connection.apiKey ? () => setOverlay("none") : () => exit()}
        onLogin={(c, r) => {
          setConnection(c);
          setRegions((m) => ({ ...m, [r]: c.url! }));
          setOverlay("none");
          props.save?.({ region: r, url: c.url!, ...(c.apiKey ? { apiKey: c.apiKey } : {}) });
        }}
      />
    );
  } else if (screenProps) {
    const k = connKey;
    body =
      screen === "namespaces" ? (
        <NamespacesScreen
          key={k}
          {...screenProps}
          onOpen={(ns) => {
            setImageFilter({ namespace: ns });
            setScreen("images");
          }}
        />
      ) : screen === "images" ? (
        <ImagesScreen key={k} {...screenProps} filter={imageFilter} onFilter={setImageFilter} />
      ) : screen === "tokens" ? (
        <TokensScreen key={k} {...screenProps} />
      ) : screen === "quota" ? (
        <QuotaScreen key={k} {...screenProps} />
      ) : screen === "exemptions" ? (
        <ExemptionsScreen key={k} {...screenProps} />
      ) : screen === "events" ? (
        <EventsScreen key={k} {...screenProps} />
      ) : screen === "delivery" ? (
        <DeliveryScreen key={k} {...screenProps} />
      ) : screen === "trash" ? (
        <TrashScreen key={k} {...screenProps} />
      ) : builds ? (
        <BuildScreen
          key={k}
          session={builds}
          width={width}
          height={contentHeight}
          active={screenProps.active}
        />
      ) : null;
  }
  const globalHelp: HelpItem[] = globalKeys
    ? [
        ["1-9", "screens"],
        ["g", "region"],
        ["q", "quit"],
      ]
    : [];
  return (
    <UiContext.Provider value={ui}>
      <Box flexDirection="column" width={width} height={rows - 1}>
        <Text wrap="truncate">
          <Text bold color="cyan">
            Berth
          </Text>
          <Text dimColor> │ region </Text>
          <Text bold color={info.error ? "red" : "green"}>
            {region}
          </Text>
          {who ? (
            <Text>
              <Text dimColor> │ </Text>
              {who.account.name}
              <Text dimColor> ({who.user.name})</Text>
            </Text>
          ) : null}
          <Text dimColor>
            {" "}
            │ {connection.url ?? "no server"} │ key {maskKey(connection.apiKey)}
          </Text>
        </Text>
        {info.error && overlay === "none" ? (
          <Text color="red" wrap="truncate">
            {truncate(`✗ ${info.error} · L to log in again`, width)}
          </Text>
        ) : (
          <Tabs current={screen} width={width} busy={building ? "build" : undefined} />
        )}
        <Box height={contentHeight} flexDirection="column" overflow="hidden">
          {body}
        </Box>
        <HelpBar
          items={overlay === "none" ? help : []}
          tail={overlay === "none" ? globalHelp : []}
          width={width}
        />
      </Box>
    </UiContext.Provider>
  );
}

const noSubscription = () => () => {};

function RegionPicker({
  regions,
  current,
  width,
  onPick,
  onCancel,
}: {
  regions: Record<string, string>;
  current: string | undefined;
  width: number;
  onPick(region: string): void;
  onCancel(): void;
}) {
  useCapture(true);
  const names = Object.keys(regions).sort();
  const [at, setAt] = useState(Math.max(0, names.indexOf(current ?? "")));
  useKeys((input, key) => {
    if (key.escape || input === "q") onCancel();
    else if (key.upArrow || input === "k") setAt((a) => Math.max(0, a - 1));
    else if (key.downArrow || input === "j") setAt((a) => Math.min(names.length - 1, a + 1));
    else if (key.return && names[at]) onPick(names[at]!);
  });
  return (
    <Box
      flexDirection="column"
      borderStyle="round"
      borderColor="cyan"
      paddingX={1}
      width={Math.min(width, 76)}
    >
      <Text bold>Switch region</Text>
      {names.length === 0 ? <Text dimColor>No region is configured.</Text> : null}
      {names.map((r, i) => (
        <Text key={r} inverse={i === at} wrap="truncate">
          {r === current ? "● " : "  "}
          {r.padEnd(12)}
          <Text dimColor>{regions[r]}</Text>
        </Text>
      ))}
      <Text dimColor wrap="wrap">
        ↑↓ choose · Enter switch · Esc cancel. More regions: berth region-set REGION --url URL
      </Text>
    </Box>
  );
}

function Login({
  connection,
  width,
  connect,
  onLogin,
  onCancel,
}: {
  connection: Connection;
  width: number;
  connect(url: string, apiKey: string | undefined): BerthClient;
  onLogin(c: Connection, region: string): void;
  onCancel(): void;
}) {
  const [state, setState] = useState<{ busy?: boolean; error?: string }>({});
  const [attempt, setAttempt] = useState(0);
  const [lastUrl, setLastUrl] = useState(connection.url ?? "");
  return (
    <Box flexDirection="column">
      <StatusLine
        action={{
          busy: state.busy ? "Checking the API key" : undefined,
          error: state.error,
          notice: undefined,
        }}
        width={width}
      />
      <Form
        key={attempt}
        title="Log in to a Berth server"
        width={width}
        fields={[
          {
            key: "url",
            label: "Server URL",
            initial: lastUrl,
            placeholder: "http://127.0.0.1:5000",
          },
          { key: "apiKey", label: "API key", kind: "secret" },
        ]}
        onCancel={onCancel}
        onSubmit={(v) => {
          const url = v.url?.trim() ?? "";
          const apiKey = v.apiKey?.trim() || connection.apiKey;
          setLastUrl(url);
          setLastUrl(url);
          setState({ busy: true });
          const c = connect(url, apiKey);
          Promise.all([c.region.query(), c.whoami.query()]).then(
            ([r]) => {
              setState({});
              onLogin({ url, ...(apiKey ? { apiKey } : {}) }, r.region);
            },
            (error: unknown) => {
              setState({ error: errorMessage(error, url) });
              setAttempt((a) => a + 1);
            },
          );
        }}
      />
    </Box>
  );
}
