# frozen_string_literal: true
#
# Private attachments for Helpy. Installed by helpdesk-operator from a ConfigMap as
# config/initializers/helpdesk_private_uploads.rb; the source is kept in the operator's
# repository (internal/appprofile/helpy/private_uploads.rb), edit it there.
#
# Why: Helpy stores uploads with CarrierWave under public/uploads, and with
# RAILS_SERVE_STATIC_FILES set ActionDispatch::Static serves every file there to anyone.
# A ticket attachment's URL is /uploads/post/attachments/<post id>/<original file name>:
# post ids are sequential and file names are the senders' own (image001.png, invoice.pdf),
# so private ticket attachments can be found by guessing.
#
# What: a Rack middleware in front of ActionDispatch::Static that, for paths under
# /uploads, lets through only
#   - avatars, knowledge-base images and logos (public by design in Helpy),
#   - attachments of posts anyone may read (community topics, comments on public docs),
#   - attachments of posts the requester may read, as Helpy itself decides it, for the
#     user of a valid Helpy session,
# and answers 404 to everything else under /uploads, whether the file exists or not, so
# that the answer confirms nothing. Everything outside /uploads (/assets, pages) passes
# untouched. Any error while deciding is a 404, never a 500; nothing personal is logged.
#
# Written for Helpy's Ruby 2.5 and Rails 4.2: no syntax newer than Ruby 2.5.
#
# What the operator's tests prove: the Ruby parses, and with Rack (but without Rails) the
# path handling and the access decisions, given fake records and a fake session, are
# right (internal/appprofile/testdata/helpy_private_uploads_test.rb). What they do not
# prove: HelpyRecords below, i.e. that Rails 4.2 decodes the session cookie this way, that
# Devise finds the user from Warden's key, and that ActiveRecord loads the records; Rails
# cannot run there.

require 'uri'
require 'rack/utils'

module HelpdeskOperator
  class PrivateUploads
    NOT_FOUND = 'Not Found'

    # Directories under /uploads whose files stay public, as segments after "uploads":
    # avatars (ProfileImageUploader, shown next to public posts), knowledge-base images
    # (ImageUploader, embedded in docs by editors) and the site logo (LogoUploader).
    PUBLIC_DIRECTORIES = [
      %w[user profile_image],
      %w[image file],
      %w[logos]
    ].freeze
    # AttachmentUploader of Post: post/attachments/<post id>/<file name>.
    POST_ATTACHMENTS = %w[post attachments].freeze
    POST_ID = /\A[1-9][0-9]{0,17}\z/

    # records provides with_connection { }, post(id) and session_user(env); the Rack test
    # replaces it, Rails uses HelpyRecords.
    def initialize(app, records: nil)
      @app = app
      @records = records || HelpyRecords
    end

    def call(env)
      verdict =
        begin
          verdict_for(env)
        rescue StandardError => e
          report(env, e)
          :deny
        end
      case verdict
      when :not_an_upload, :public then @app.call(env)
      when :granted then private_response(@app.call(env))
      else not_found(env)
      end
    end

    private

    # Only the decision is guarded: errors of the app behind us are not turned into 404s.
    def verdict_for(env)
      path = static_path(env['PATH_INFO'])
      # Static would not serve it, and no Helpy page needs it.
      return :deny if path.nil?

      segments = path.split('/').reject(&:empty?).map(&:downcase)
      return :not_an_upload unless segments.first == 'uploads'

      segments = segments.drop(1)
      return :public if public_directory?(segments)

      post_id = post_attachment_id(segments)
      return :deny if post_id.nil?

      @records.with_connection do
        post = @records.post(post_id)
        if post.nil?
          :deny
        elsif Visibility.public_post?(post)
          :public
        elsif Visibility.readable?(@records.session_user(env), post)
          :granted
        else
          :deny
        end
      end
    end

    # The path ActionDispatch::Static would serve a file from (chomp '/', unescape once,
    # Rack's clean_path_info), or nil when it does not decode. Deciding on that path means
    # no spelling (%61ttachments, //, /./, /assets/../uploads) reaches a file this check
    # did not see. The caller lower-cases the segments in case the volume's file system
    # ignores case.
    def static_path(path_info)
      path = uri_parser.unescape(path_info.to_s.chomp('/'))
      return nil unless path.valid_encoding? && !path.include?("\0")

      Rack::Utils.clean_path_info(path)
    end

    # The parser ActionDispatch::Static uses (active_support/core_ext/uri) when loaded.
    def uri_parser
      URI.respond_to?(:parser) ? URI.parser : URI::RFC2396_Parser.new
    end

    def public_directory?(segments)
      PUBLIC_DIRECTORIES.any? do |dir|
        segments.length > dir.length && segments.first(dir.length) == dir
      end
    end

    # The post id of post/attachments/<id>[/...]. Static also tries <path>.html and
    # <path>/index.html, both inside the same post's directory.
    def post_attachment_id(segments)
      return nil unless segments.length >= 3 && segments.first(2) == POST_ATTACHMENTS
      return nil unless segments[2] =~ POST_ID

      Integer(segments[2], 10)
    end

    # Granted files must not be kept by shared caches; browsers revalidate, which asks
    # this middleware again (after a sign-out the answer is 404).
    def private_response(response)
      status, headers, body = response
      headers = headers.reject { |name, _| name.to_s.casecmp('cache-control').zero? }
      headers['Cache-Control'] = 'private, no-cache'
      [status, headers, body]
    end

    def not_found(env)
      body = env['REQUEST_METHOD'] == 'HEAD' ? [] : [NOT_FOUND]
      headers = {
        'Content-Type' => 'text/plain; charset=utf-8',
        'Content-Length' => NOT_FOUND.bytesize.to_s,
        'Cache-Control' => 'no-store'
      }
      [404, headers, body]
    end

    # The error's class only: messages and the path may name people or files.
    def report(env, error)
      errors = env['rack.errors']
      errors.puts("helpdesk private uploads: answered 404 after #{error.class}") if errors.respond_to?(:puts)
    rescue StandardError
      nil
    end

    # Who may read a post's attachments, following Helpy's own controllers. Calls only
    # methods of Helpy's models (Post, Topic, Forum, Doc, Category, User).
    module Visibility
      module_function

      # Readable without a session: PostsController#index shows the active, non-note posts
      # of undeleted, non-private, non-spam topics; DocsController#show those of the
      # comment thread of an active doc in a publicly viewable category. Stricter than
      # Helpy where it is lax: internal tickets, topics of private forums (doc comment
      # threads aside) and of forums 1 and 2 (tickets, trash; Topic#public?) are never
      # public.
      def public_post?(post)
        topic = post.topic
        return false if topic.nil? || !visible_to_customers?(post)
        return false if topic.private || topic.kind == 'internal'
        return false if %w[spam trash].include?(topic.current_status)

        if topic.doc_id.to_i > 0
          doc = topic.doc
          return !doc.nil? && doc.active && !doc.category.nil? && doc.category.publicly_viewable?
        end
        forum = topic.forum
        !forum.nil? && !forum.private && topic.forum_id.to_i >= 3
      end

      # Readable by user: agents as Admin::TopicsController#show allows them (notes
      # included), the ticket's own customer as TopicsController#ticket shows it (no notes,
      # not in the trash, not internal), editors the comments on any doc.
      def readable?(user, post)
        return false if user.nil? || !user.active_for_authentication?

        topic = post.topic
        return false if topic.nil?
        return agent_may_see?(user, topic) if user.is_agent?
        return false unless visible_to_customers?(post)
        return true if user.is_editor? && topic.doc_id.to_i > 0 && !topic.private

        topic.user_id == user.id && topic.current_status != 'trash' && topic.kind != 'internal'
      end

      def visible_to_customers?(post)
        post.active && post.kind != 'note'
      end

      # Admin::BaseController#check_current_user_is_allowed?: an agent with teams sees a
      # private topic with teams only when one of the agent's teams is the topic's first.
      def agent_may_see?(user, topic)
        return true if !topic.private || user.is_admin?

        topic_teams = topic.team_list.to_a
        return true if topic_teams.empty? || !user.is_restricted?

        user.team_list.to_a.include?(topic_teams.first)
      end
    end

    # The Rails side, replaced in the operator's Rack test.
    module HelpyRecords
      module_function

      # Devise stores the signed-in user here as [[id], authenticatable_salt].
      WARDEN_USER_KEY = 'warden.user.user.key'

      # This middleware runs before ActiveRecord's connection management: borrow a
      # connection for the decision and give it back.
      def with_connection(&block)
        ::ActiveRecord::Base.connection_pool.with_connection(&block)
      end

      def post(id)
        ::Post.find_by(id: id)
      end

      # Reads the session as ActionDispatch::Session::CookieStore does (Rails' own
      # encrypted cookie jar; Rails::Engine#call merged the secrets into env before the
      # middleware stack), and the user as Warden does (Devise's serialize_from_session,
      # which also rejects a session from before a password change). A copy of env keeps
      # the cookie jar this builds out of the request.
      def session_user(env)
        key = ::Rails.application.config.session_options[:key]
        return nil if key.nil?

        session = ::ActionDispatch::Request.new(env.dup).cookie_jar.signed_or_encrypted[key]
        return nil unless session.is_a?(Hash)

        serialized = session[WARDEN_USER_KEY]
        return nil unless serialized.is_a?(Array) && serialized.length == 2

        ::User.serialize_from_session(*serialized)
      end
    end
  end
end

if defined?(::Rails::Application) && ::Rails.application
  # First in the stack, hence in front of ActionDispatch::Static. An index rather than
  # insert_before(ActionDispatch::Static): that would stop the app from booting when
  # static files are not served (then there is nothing to guard, but no harm either).
  ::Rails.application.config.middleware.insert_before(0, HelpdeskOperator::PrivateUploads)
end
