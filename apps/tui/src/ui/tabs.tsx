import { Text } from "ink";
import { SCREENS, type ScreenId } from "./screens/registry";

/**
 * The screens by number. Where they do not fit with room around each, they close up to one
 * space apart, and where even that is too wide (80 columns) the number touches its title.
 * A screen with work going on (a build) is marked `…`.
 */
export function Tabs({
  current,
  width,
  busy,
}: {
  current: ScreenId;
  width: number;
  busy?: ScreenId;
}) {
  const title = (s: (typeof SCREENS)[number]) => `${s.title}${s.id === busy ? "…" : ""}`;
  const roomy = SCREENS.reduce((n, s, i) => n + ` ${i + 1} ${title(s)} `.length, 0) <= width;
  const gap =
    SCREENS.reduce((n, s, i) => n + `${i + 1} ${title(s)}`.length + (i > 0 ? 1 : 0), 0) <= width
      ? " "
      : "";
  return (
    <Text wrap="truncate">
      {SCREENS.map((s, i) => (
        <Text key={s.id}>
          {!roomy && i > 0 ? " " : ""}
          {s.id === current ? (
            <Text inverse bold>
              {roomy ? ` ${i + 1} ${title(s)} ` : `${i + 1}${gap}${title(s)}`}
            </Text>
          ) : (
            <Text dimColor={false}>
              <Text color="cyan">{roomy ? ` ${i + 1}` : `${i + 1}`}</Text>
              {roomy ? ` ${title(s)} ` : `${gap}${title(s)}`}
            </Text>
          )}
        </Text>
      ))}
    </Text>
  );
}
