import { App, type AppProps } from "../src/ui/app";
import type { Stack } from "./stack";

/** The interactive app logged in as alice on the stack's us-south server, opened on `screen`. */
export function aliceApp(stack: Stack, initialScreen: AppProps["initialScreen"]) {
  return (
    <App
      connection={{ url: stack.url, apiKey: stack.alice.apiKey }}
      regions={{ "us-south": stack.url }}
      interactive
      initialScreen={initialScreen}
    />
  );
}
