import { Box } from "ink";
import { type ReactNode, useState } from "react";
import { Confirm, type Field, Form, StatusLine } from "../components";
import { type ActionState, type HelpItem, useAction, useHelp, useKeys } from "../context";
import { type PageFetch, useLoadNearEnd, usePages } from "../pages";
import { Table, type TableColumn, useList } from "../table";

/** What a list screen's form or confirmation gets to act with. */
export interface ListActions {
  action: ActionState;
  reload(): void;
}

/** A key of the list that opens a form (new, scope, …). */
export interface FormKey {
  key: string;
  help: string;
  title: string;
  fields: Field[];
  /** Clear the last action's message when the form opens. */
  clearsStatus?: boolean;
  submit(values: Record<string, string>, act: ListActions): void;
}

/** A key of the list that asks before acting on the selected row (delete, …). */
export interface ConfirmKey<Row> {
  key: string;
  help: string;
  message(row: Row): string;
  confirmed(row: Row, act: ListActions): void;
}

export interface ListScreenProps<Row> {
  width: number;
  height: number;
  active: boolean;
  /** A line above the status line, if any. */
  title?: ReactNode;
  /** Plural of the rows, for "Loading …". */
  noun: string;
  /** A page of the rows: the next is fetched as the selection nears the last row loaded. */
  load: PageFetch<Row>;
  /** Reloads when it changes. */
  loadKey: string;
  columns: TableColumn<Row>[];
  rowKey(row: Row): string;
  /** What `/` matches. */
  filterText(row: Row): string;
  empty: string;
  /** Enter on a row. */
  open?: { help: string; run(row: Row): void };
  /** The keys in the order the help bar shows them (after move and open, before filter). */
  keys: (FormKey | ConfirmKey<Row>)[];
}

const isForm = <Row,>(k: FormKey | ConfirmKey<Row>): k is FormKey => "fields" in k;

/**
 * A screen of rows the account owns: select, filter, open, and the forms and confirmations
 * that add, remove or narrow them. Namespaces and exemptions are both this.
 */
export function ListScreen<Row>(props: ListScreenProps<Row>) {
  const { width, height, active, keys } = props;
  // The key whose form or confirmation is open; undefined while the list has the keyboard.
  const [open, setOpen] = useState<string | undefined>(undefined);
  const load = usePages(props.load, props.loadKey);
  const action = useAction();
  const listing = open === undefined;
  const list = useList<Row>(load.data ?? [], {
    active: active && listing,
    text: props.filterText,
    key: props.rowKey,
    page: height - 4,
  });
  useLoadNearEnd(load, list, height - 4);
  const act: ListActions = { action, reload: load.reload };
  useHelp(
    listing
      ? ([
          ["↑↓", "move"],
          ...(props.open ? [["enter", props.open.help]] : []),
          ...keys.map((k) => [k.key, k.help]),
          ["/", "filter"],
          ["r", "refresh"],
        ] as HelpItem[])
      : [],
  );
  useKeys(
    (input, key) => {
      if (key.return) {
        if (props.open && list.current) props.open.run(list.current);
        return;
      }
      if (input === "r") {
        action.clear();
        load.reload();
        return;
      }
      const k = keys.find((k) => k.key === input);
      if (!k) return;
      if (isForm(k)) {
        if (k.clearsStatus !== false) action.clear();
        setOpen(k.key);
      } else if (list.current) setOpen(k.key);
    },
    active && listing && !list.filtering,
  );

  const current = keys.find((k) => k.key === open);
  const filterBar = list.filterBar(width);
  const tableHeight = height - (props.title ? 2 : 1) - (filterBar ? 1 : 0);
  const close = () => setOpen(undefined);
  let body: ReactNode;
  if (current && isForm(current)) {
    body = (
      <Form
        title={current.title}
        width={width}
        fields={current.fields}
        onCancel={close}
        onSubmit={(values) => {
          close();
          current.submit(values, act);
        }}
      />
    );
  } else if (current && list.current) {
    const row = list.current;
    body = (
      <Confirm
        width={width}
        message={current.message(row)}
        onNo={close}
        onYes={() => {
          close();
          current.confirmed(row, act);
        }}
      />
    );
  } else {
    body = (
      <Table<Row>
        columns={props.columns}
        rows={list.rows}
        selected={list.selected}
        height={tableHeight}
        width={width}
        rowKey={props.rowKey}
        empty={load.data ? props.empty : ""}
      />
    );
  }
  return (
    <Box flexDirection="column" height={height}>
      {props.title}
      <StatusLine
        action={action}
        loading={load.loading && !load.data && `Loading ${props.noun}`}
        {...(load.error ? { loadError: load.error } : {})}
        width={width}
      />
      {filterBar}
      {body}
    </Box>
  );
}
