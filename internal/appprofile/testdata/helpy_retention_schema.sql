-- Helpy's tables that retention and data-subject requests read or change, and the ones
-- that keep them consistent (counter caches: forums, tags, docs), transcribed column by
-- column from db/schema.rb of github.com/helpyio/helpy at 26aff0e (schema version
-- 20191005134018) as Rails 4.2's PostgreSQL adapter creates them: string is character
-- varying, datetime is timestamp without time zone, id is serial. Indexes are Helpy's
-- own; note that posts has none (no index on topic_id or user_id).
--
-- Left out: categories and translations, images, searches, ar_internal_metadata,
-- schema_migrations (nothing personal, nothing retention touches).

CREATE TABLE api_keys (
    id serial PRIMARY KEY,
    access_token character varying,
    user_id integer,
    name character varying,
    date_expired timestamp without time zone,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);
CREATE UNIQUE INDEX index_api_keys_on_access_token ON api_keys USING btree (access_token);
CREATE INDEX index_api_keys_on_user_id ON api_keys USING btree (user_id);

CREATE TABLE attachinary_files (
    id serial PRIMARY KEY,
    attachinariable_id integer,
    attachinariable_type character varying,
    scope character varying,
    public_id character varying,
    version character varying,
    width integer,
    height integer,
    format character varying,
    resource_type character varying,
    created_at timestamp without time zone,
    updated_at timestamp without time zone
);
CREATE INDEX by_scoped_parent ON attachinary_files USING btree (attachinariable_type, attachinariable_id, scope);

CREATE TABLE backups (
    id serial PRIMARY KEY,
    user_id integer,
    csv text,
    model character varying,
    csv_name character varying,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);
CREATE INDEX index_backups_on_user_id ON backups USING btree (user_id);

CREATE TABLE docs (
    id serial PRIMARY KEY,
    title character varying,
    body text,
    keywords character varying,
    title_tag character varying,
    meta_description character varying,
    category_id integer,
    user_id integer,
    active boolean DEFAULT true,
    rank integer,
    permalink character varying,
    version integer,
    front_page boolean DEFAULT false,
    cheatsheet boolean DEFAULT false,
    points integer DEFAULT 0,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    topics_count integer DEFAULT 0,
    allow_comments boolean DEFAULT true,
    attachments character varying[] DEFAULT '{}'::character varying[]
);

CREATE TABLE flags (
    id serial PRIMARY KEY,
    post_id integer,
    generated_topic_id integer,
    reason text,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE forums (
    id serial PRIMARY KEY,
    name character varying,
    description text,
    topics_count integer DEFAULT 0 NOT NULL,
    last_post_date timestamp without time zone,
    last_post_id integer,
    private boolean DEFAULT false,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    allow_topic_voting boolean DEFAULT false,
    allow_post_voting boolean DEFAULT false,
    layout character varying DEFAULT 'table'::character varying
);

CREATE TABLE imports (
    id serial PRIMARY KEY,
    status character varying,
    notes character varying,
    model character varying,
    started_at timestamp without time zone,
    completed_at timestamp without time zone,
    submited_record_count integer,
    imported_ids text,
    error_log text,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE pg_search_documents (
    id serial PRIMARY KEY,
    content text,
    searchable_id integer,
    searchable_type character varying,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE posts (
    id serial PRIMARY KEY,
    topic_id integer,
    user_id integer,
    body text,
    kind character varying,
    active boolean DEFAULT true,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    points integer DEFAULT 0,
    attachments character varying[] DEFAULT '{}'::character varying[],
    cc character varying,
    bcc character varying,
    raw_email text,
    email_to_address character varying DEFAULT ''::character varying
);

CREATE TABLE settings (
    id serial PRIMARY KEY,
    var character varying NOT NULL,
    value text,
    thing_id integer,
    thing_type character varying(30),
    created_at timestamp without time zone,
    updated_at timestamp without time zone
);
CREATE UNIQUE INDEX index_settings_on_thing_type_and_thing_id_and_var ON settings USING btree (thing_type, thing_id, var);

CREATE TABLE taggings (
    id serial PRIMARY KEY,
    tag_id integer,
    taggable_id integer,
    taggable_type character varying,
    tagger_id integer,
    tagger_type character varying,
    context character varying(128),
    created_at timestamp without time zone
);
CREATE INDEX index_taggings_on_context ON taggings USING btree (context);
CREATE UNIQUE INDEX taggings_idx ON taggings USING btree (tag_id, taggable_id, taggable_type, context, tagger_id, tagger_type);
CREATE INDEX index_taggings_on_tag_id ON taggings USING btree (tag_id);
CREATE INDEX index_taggings_on_taggable_id_and_taggable_type_and_context ON taggings USING btree (taggable_id, taggable_type, context);
CREATE INDEX taggings_idy ON taggings USING btree (taggable_id, taggable_type, tagger_id, context);
CREATE INDEX index_taggings_on_taggable_id ON taggings USING btree (taggable_id);
CREATE INDEX index_taggings_on_taggable_type ON taggings USING btree (taggable_type);
CREATE INDEX index_taggings_on_tagger_id_and_tagger_type ON taggings USING btree (tagger_id, tagger_type);
CREATE INDEX index_taggings_on_tagger_id ON taggings USING btree (tagger_id);

CREATE TABLE tags (
    id serial PRIMARY KEY,
    name character varying,
    taggings_count integer DEFAULT 0,
    show_on_helpcenter boolean DEFAULT false,
    show_on_admin boolean DEFAULT false,
    show_on_dashboard boolean DEFAULT false,
    description text,
    color character varying,
    active boolean DEFAULT true,
    email_address character varying,
    email_name character varying
);
CREATE UNIQUE INDEX index_tags_on_name ON tags USING btree (name);

CREATE TABLE topics (
    id serial PRIMARY KEY,
    forum_id integer,
    user_id integer,
    user_name character varying,
    name character varying,
    posts_count integer DEFAULT 0 NOT NULL,
    waiting_on character varying DEFAULT 'admin'::character varying NOT NULL,
    last_post_date timestamp without time zone,
    closed_date timestamp without time zone,
    last_post_id integer,
    current_status character varying DEFAULT 'new'::character varying NOT NULL,
    private boolean DEFAULT false,
    assigned_user_id integer,
    cheatsheet boolean DEFAULT false,
    points integer DEFAULT 0,
    post_cache text,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    locale character varying,
    doc_id integer DEFAULT 0,
    channel character varying DEFAULT 'email'::character varying,
    kind character varying DEFAULT 'ticket'::character varying,
    priority integer DEFAULT 1,
    spam_score numeric DEFAULT 0.0,
    spam_report text DEFAULT ''::text
);
CREATE INDEX index_topics_on_kind ON topics USING btree (kind);
CREATE INDEX index_topics_on_priority ON topics USING btree (priority);

CREATE TABLE users (
    id serial PRIMARY KEY,
    login character varying,
    identity_url character varying,
    name character varying,
    admin boolean DEFAULT false,
    bio text,
    signature text,
    role character varying DEFAULT 'user'::character varying,
    home_phone character varying,
    work_phone character varying,
    cell_phone character varying,
    company character varying,
    street character varying,
    city character varying,
    state character varying,
    zip character varying,
    title character varying,
    twitter character varying,
    linkedin character varying,
    thumbnail character varying,
    medium_image character varying,
    large_image character varying,
    language character varying DEFAULT 'en'::character varying,
    assigned_ticket_count integer DEFAULT 0,
    topics_count integer DEFAULT 0,
    active boolean DEFAULT true,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    email character varying DEFAULT ''::character varying NOT NULL,
    encrypted_password character varying DEFAULT ''::character varying NOT NULL,
    reset_password_token character varying,
    reset_password_sent_at timestamp without time zone,
    remember_created_at timestamp without time zone,
    sign_in_count integer DEFAULT 0 NOT NULL,
    current_sign_in_at timestamp without time zone,
    last_sign_in_at timestamp without time zone,
    current_sign_in_ip inet,
    last_sign_in_ip inet,
    provider character varying,
    uid character varying,
    invitation_token character varying,
    invitation_created_at timestamp without time zone,
    invitation_sent_at timestamp without time zone,
    invitation_accepted_at timestamp without time zone,
    invitation_limit integer,
    invited_by_id integer,
    invited_by_type character varying,
    invitations_count integer DEFAULT 0,
    invitation_message text,
    time_zone character varying DEFAULT 'UTC'::character varying,
    profile_image character varying,
    notify_on_private boolean DEFAULT false,
    notify_on_public boolean DEFAULT false,
    notify_on_reply boolean DEFAULT false,
    account_number character varying,
    priority character varying DEFAULT 'normal'::character varying,
    notes text,
    status character varying DEFAULT 'available'::character varying
);
CREATE UNIQUE INDEX index_users_on_email ON users USING btree (email);
CREATE UNIQUE INDEX index_users_on_invitation_token ON users USING btree (invitation_token);
CREATE INDEX index_users_on_invitations_count ON users USING btree (invitations_count);
CREATE INDEX index_users_on_invited_by_id ON users USING btree (invited_by_id);
CREATE INDEX index_users_on_notify_on_private ON users USING btree (notify_on_private);
CREATE INDEX index_users_on_notify_on_public ON users USING btree (notify_on_public);
CREATE INDEX index_users_on_notify_on_reply ON users USING btree (notify_on_reply);
CREATE INDEX index_users_on_priority ON users USING btree (priority);
CREATE UNIQUE INDEX index_users_on_reset_password_token ON users USING btree (reset_password_token);

CREATE TABLE versions (
    id serial PRIMARY KEY,
    item_type character varying NOT NULL,
    item_id integer NOT NULL,
    event character varying NOT NULL,
    whodunnit character varying,
    object text,
    created_at timestamp without time zone,
    locale character varying
);
CREATE INDEX index_versions_on_item_type_and_item_id ON versions USING btree (item_type, item_id);

CREATE TABLE votes (
    id serial PRIMARY KEY,
    points integer DEFAULT 1,
    voteable_type character varying,
    voteable_id integer,
    user_id integer DEFAULT 0,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);
