CREATE TABLE "manifest_pulls" (
	"repository_id" uuid NOT NULL,
	"digest" text NOT NULL,
	"last_pulled_at" timestamp with time zone NOT NULL,
	CONSTRAINT "manifest_pulls_repository_id_digest_pk" PRIMARY KEY("repository_id","digest")
);
--> statement-breakpoint
CREATE TABLE "retention_policies" (
	"namespace_id" uuid PRIMARY KEY NOT NULL,
	"images_per_repository" integer NOT NULL,
	"keep_untagged" boolean NOT NULL,
	"keep_pulled_within_days" integer NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"last_run_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "tag_immutability" (
	"namespace_id" uuid NOT NULL,
	"repository" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "tag_immutability_uq" UNIQUE("namespace_id","repository")
);
--> statement-breakpoint
CREATE TABLE "trash_blobs" (
	"entry_id" uuid NOT NULL,
	"digest" text NOT NULL,
	CONSTRAINT "trash_blobs_entry_id_digest_pk" PRIMARY KEY("entry_id","digest")
);
--> statement-breakpoint
CREATE TABLE "trash_entries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"region" text NOT NULL,
	"namespace" text NOT NULL,
	"repository" text NOT NULL,
	"digest" text NOT NULL,
	"media_type" text NOT NULL,
	"size" integer NOT NULL,
	"content" "bytea" NOT NULL,
	"snapshot" jsonb NOT NULL,
	"tags" jsonb NOT NULL,
	"reason" text NOT NULL,
	"deleted_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "manifest_pulls" ADD CONSTRAINT "manifest_pulls_repository_id_repositories_id_fk" FOREIGN KEY ("repository_id") REFERENCES "public"."repositories"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "retention_policies" ADD CONSTRAINT "retention_policies_namespace_id_namespaces_id_fk" FOREIGN KEY ("namespace_id") REFERENCES "public"."namespaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tag_immutability" ADD CONSTRAINT "tag_immutability_namespace_id_namespaces_id_fk" FOREIGN KEY ("namespace_id") REFERENCES "public"."namespaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "trash_blobs" ADD CONSTRAINT "trash_blobs_entry_id_trash_entries_id_fk" FOREIGN KEY ("entry_id") REFERENCES "public"."trash_entries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "trash_blobs" ADD CONSTRAINT "trash_blobs_digest_blobs_digest_fk" FOREIGN KEY ("digest") REFERENCES "public"."blobs"("digest") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "trash_entries" ADD CONSTRAINT "trash_entries_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "trash_blobs_digest_idx" ON "trash_blobs" USING btree ("digest");--> statement-breakpoint
CREATE INDEX "trash_entries_account_idx" ON "trash_entries" USING btree ("account_id","region","repository","digest");--> statement-breakpoint
CREATE INDEX "trash_entries_expires_idx" ON "trash_entries" USING btree ("expires_at");