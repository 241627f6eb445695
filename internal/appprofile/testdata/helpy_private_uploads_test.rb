# Rack-level test of Helpy's private uploads middleware (internal/appprofile/helpy/
# private_uploads.rb), run by TestHelpyPrivateUploadsRack with Debian's ruby and ruby-rack:
#   ruby helpy_private_uploads_test.rb <initializer.rb>
#
# Rails cannot run here, so the records seam (HelpyRecords: ActiveRecord and the Rails
# session cookie) is replaced by FakeRecords, whose "session" is a plain cookie naming a
# user. Proven: path resolution and the access decisions on Helpy's model methods, the
# 404 answers and that the app behind (ActionDispatch::Static) is never reached for them,
# and how the file registers itself with Rails. Not proven: the decoding of a real
# _helpy_session cookie and the ActiveRecord queries.

require 'rack'
require 'stringio'

# A stand-in for Rails that records how the initializer registers the middleware.
module Rails
  class Application; end

  MiddlewareRecorder = Struct.new(:operations) do
    def insert_before(*args)
      operations << [:insert_before, *args]
    end
  end

  def self.application
    @application ||= Struct.new(:config).new(Struct.new(:middleware).new(MiddlewareRecorder.new([])))
  end
end

load ARGV.fetch(0)

# Fakes of Helpy's models with the attributes and methods the middleware calls. The User
# methods copy app/models/user.rb (is_admin?, is_agent?, is_editor?, is_restricted?).
FakeForum = Struct.new(:private)
FakeCategory = Struct.new(:public_viewable) do
  def publicly_viewable?
    public_viewable
  end
end
FakeDoc = Struct.new(:active, :category)
FakeTopic = Struct.new(:private, :forum_id, :forum, :user_id, :current_status, :kind, :team_list, :doc_id, :doc)
FakePost = Struct.new(:topic, :kind, :active)
FakeUser = Struct.new(:id, :role, :team_list, :active) do
  def is_admin?
    role == 'admin'
  end

  def is_agent?
    %w[agent admin].include?(role)
  end

  def is_editor?
    %w[editor agent admin].include?(role)
  end

  def is_restricted?
    team_list.count > 0 && !is_admin?
  end

  def active_for_authentication?
    active
  end
end

# The records seam: posts by id, and the session's user from a test cookie instead of the
# encrypted Rails session.
class FakeRecords
  attr_reader :connections

  def initialize(posts, users)
    @posts = posts
    @users = users
    @connections = 0
  end

  def with_connection
    @connections += 1
    yield
  end

  def post(id)
    @posts.fetch(id) { nil }
  end

  def session_user(env)
    id = Rack::Request.new(env).cookies['test_user']
    id && @users[Integer(id)]
  end
end

class RaisingRecords < FakeRecords
  def post(_id)
    raise ArgumentError, 'customer@example.com secret.pdf'
  end
end

class RaisingSession < FakeRecords
  def session_user(_env)
    raise TypeError, 'undecodable cookie'
  end
end

tickets = FakeForum.new(true)
community = FakeForum.new(false)
private_forum = FakeForum.new(true)
doc_comments = FakeForum.new(true)
public_doc = FakeDoc.new(true, FakeCategory.new(true))
internal_doc = FakeDoc.new(true, FakeCategory.new(false))

def ticket(owner, attrs = {})
  FakeTopic.new(true, 1, attrs.fetch(:forum), owner, attrs.fetch(:status, 'open'), attrs.fetch(:kind, 'ticket'),
                attrs.fetch(:teams, []), 0, nil)
end

customer = FakeUser.new(10, 'user', [], true)
other_customer = FakeUser.new(11, 'user', [], true)
deactivated_customer = FakeUser.new(12, 'user', [], false)
agent = FakeUser.new(20, 'agent', [], true)
billing_agent = FakeUser.new(21, 'agent', ['billing'], true)
sales_agent = FakeUser.new(22, 'agent', ['sales'], true)
admin_in_sales = FakeUser.new(23, 'admin', ['sales'], true)
editor = FakeUser.new(24, 'editor', [], true)
users = [customer, other_customer, deactivated_customer, agent, billing_agent, sales_agent, admin_in_sales, editor]
        .map { |u| [u.id, u] }.to_h

open_ticket = ticket(10, forum: tickets)
posts = {
  1 => FakePost.new(open_ticket, 'first', true),
  2 => FakePost.new(open_ticket, 'note', true),
  3 => FakePost.new(ticket(10, forum: tickets, teams: ['billing']), 'reply', true),
  4 => FakePost.new(ticket(12, forum: tickets), 'first', true),
  5 => FakePost.new(ticket(10, forum: tickets, status: 'trash'), 'first', true),
  6 => FakePost.new(open_ticket, 'reply', false),
  7 => FakePost.new(ticket(10, forum: tickets, kind: 'internal'), 'first', true),
  # Community topics: public, in a private forum, marked spam.
  20 => FakePost.new(FakeTopic.new(false, 5, community, 11, 'open', 'ticket', [], 0, nil), 'first', true),
  21 => FakePost.new(FakeTopic.new(false, 6, private_forum, 11, 'open', 'ticket', [], 0, nil), 'first', true),
  22 => FakePost.new(FakeTopic.new(false, 5, community, 11, 'spam', 'ticket', [], 0, nil), 'first', true),
  23 => FakePost.new(FakeTopic.new(false, 5, community, 11, 'open', 'ticket', [], 0, nil), 'note', true),
  # A private question in a community forum.
  24 => FakePost.new(FakeTopic.new(true, 5, community, 10, 'open', 'ticket', [], 0, nil), 'first', true),
  # Knowledge-base comment threads (forum "Doc comments", itself private).
  30 => FakePost.new(FakeTopic.new(false, 3, doc_comments, 11, 'new', 'ticket', [], 8, public_doc), 'reply', true),
  31 => FakePost.new(FakeTopic.new(false, 3, doc_comments, 11, 'new', 'ticket', [], 9, internal_doc), 'reply', true)
}
# A topic object without a post.topic (deleted with delete_all) must not pass either.
posts[40] = FakePost.new(nil, 'first', true)

OK_BODY = 'served by the app behind'.freeze

class CountingApp
  attr_reader :calls

  def initialize
    @calls = 0
  end

  def call(_env)
    @calls += 1
    [200, { 'Content-Type' => 'application/octet-stream', 'Cache-Control' => 'public, max-age=31536000' }, [OK_BODY]]
  end
end

$failures = []

def request(middleware, path, user: nil, method: 'GET')
  env = Rack::MockRequest.env_for('/', method: method)
  env['PATH_INFO'] = path
  env['HTTP_COOKIE'] = "test_user=#{user.id}" if user
  status, headers, body = middleware.call(env)
  text = +''
  body.each { |part| text << part }
  [status, headers, text, env['rack.errors'].string]
end

# want is :not_found (404 from the middleware, the app behind not reached), :passed (the
# app's answer untouched) or :granted (the app's answer, marked private for caches).
def check(description, middleware, app, path, want, user: nil, method: 'GET')
  before = app.calls
  status, headers, body, _log = request(middleware, path, user: user, method: method)
  reached = app.calls > before
  cache = headers['Cache-Control']
  got =
    if status == 404 && !reached && cache == 'no-store' && body == (method == 'HEAD' ? '' : 'Not Found')
      :not_found
    elsif status == 200 && reached && body == OK_BODY && cache == 'private, no-cache'
      :granted
    elsif status == 200 && reached && body == OK_BODY && cache == 'public, max-age=31536000'
      :passed
    else
      "status #{status}, app reached #{reached}, Cache-Control #{cache.inspect}, body #{body.inspect}"
    end
  $failures << "#{description} (#{method} #{path}): got #{got}, want #{want}" if got != want
end

app = CountingApp.new
records = FakeRecords.new(posts, users)
mw = HelpdeskOperator::PrivateUploads.new(app, records: records)
a = '/uploads/post/attachments'

# The five cases of the review item.
check('private ticket attachment without a session', mw, app, "#{a}/1/invoice.pdf", :not_found)
check('private ticket attachment, session of a customer who is not the owner', mw, app, "#{a}/1/invoice.pdf", :not_found, user: other_customer)
check('private ticket attachment, session of the owner', mw, app, "#{a}/1/invoice.pdf", :granted, user: customer)
check('assets are untouched', mw, app, '/assets/application-0123abcd.css', :passed)
check('public community topic attachment without a session', mw, app, "#{a}/20/screenshot.png", :passed)

# Helpy's rules for agents, customers and editors.
check('agent without teams', mw, app, "#{a}/1/invoice.pdf", :granted, user: agent)
check('agent without teams, team ticket', mw, app, "#{a}/3/invoice.pdf", :granted, user: agent)
check('agent of the ticket team', mw, app, "#{a}/3/invoice.pdf", :granted, user: billing_agent)
check('agent of another team', mw, app, "#{a}/3/invoice.pdf", :not_found, user: sales_agent)
check('agent of another team, untagged ticket', mw, app, "#{a}/1/invoice.pdf", :granted, user: sales_agent)
check('admin of another team', mw, app, "#{a}/3/invoice.pdf", :granted, user: admin_in_sales)
check('owner, internal note', mw, app, "#{a}/2/notes.txt", :not_found, user: customer)
check('agent, internal note', mw, app, "#{a}/2/notes.txt", :granted, user: agent)
check('owner, trashed ticket', mw, app, "#{a}/5/invoice.pdf", :not_found, user: customer)
check('owner, hidden post', mw, app, "#{a}/6/invoice.pdf", :not_found, user: customer)
check('owner, internal ticket', mw, app, "#{a}/7/invoice.pdf", :not_found, user: customer)
check('deactivated owner', mw, app, "#{a}/4/invoice.pdf", :not_found, user: deactivated_customer)
check('editor, private ticket', mw, app, "#{a}/1/invoice.pdf", :not_found, user: editor)
check('post without a topic', mw, app, "#{a}/40/invoice.pdf", :not_found, user: agent)

# Public and not quite public topics.
check('public topic in a private forum', mw, app, "#{a}/21/x.png", :not_found)
check('public topic in a private forum, agent', mw, app, "#{a}/21/x.png", :granted, user: agent)
check('public topic marked spam', mw, app, "#{a}/22/x.png", :not_found)
check('public topic, note', mw, app, "#{a}/23/x.png", :not_found)
check('private topic in a public forum', mw, app, "#{a}/24/x.png", :not_found)
check('private topic in a public forum, owner', mw, app, "#{a}/24/x.png", :granted, user: customer)
check('public doc comment', mw, app, "#{a}/30/x.png", :passed)
check('internal doc comment', mw, app, "#{a}/31/x.png", :not_found)
check('internal doc comment, customer', mw, app, "#{a}/31/x.png", :not_found, user: customer)
check('internal doc comment, editor', mw, app, "#{a}/31/x.png", :granted, user: editor)

# Other uploads.
check('public avatar', mw, app, '/uploads/user/profile_image/10/thumb_me.png', :passed)
check('public knowledge-base image', mw, app, '/uploads/image/file/4/diagram.png', :passed)
check('public logo', mw, app, '/uploads/logos/logo.png', :passed)
check('CarrierWave cache', mw, app, '/uploads/tmp/1634567890-42-0001-1234/invoice.pdf', :not_found, user: agent)
check('unknown upload directory', mw, app, '/uploads/backup/export.csv', :not_found, user: agent)
check('uploads root', mw, app, '/uploads', :not_found)
check('attachments root', mw, app, a, :not_found, user: agent)
check('attachment directory (Static tries index.html)', mw, app, "#{a}/1", :not_found)
check('unknown post', mw, app, "#{a}/999/invoice.pdf", :not_found, user: agent)
check('post id that is not a number', mw, app, "#{a}/1abc/invoice.pdf", :not_found, user: agent)
check('post id with a leading zero', mw, app, "#{a}/01/invoice.pdf", :not_found, user: customer)
check('not under uploads', mw, app, '/tickets', :passed)
check('a page whose name starts like uploads', mw, app, '/uploads-help', :passed)

# Spellings that ActionDispatch::Static resolves to a private file.
['/uploads/post/%61ttachments/1/invoice.pdf',
 '/uploads/%70ost/attachments/1/invoice.pdf',
 '/%75ploads/post/attachments/1/invoice.pdf',
 '//uploads///post/attachments/1/invoice.pdf',
 '/uploads/./post/attachments/1/invoice.pdf',
 '/assets/../uploads/post/attachments/1/invoice.pdf',
 '/uploads/user/profile_image/../../post/attachments/1/invoice.pdf',
 '/uploads/logos/%2e%2e/post/attachments/1/invoice.pdf',
 '/uploads/post/attachments/1/invoice.pdf/',
 '/UPLOADS/Post/Attachments/1/invoice.pdf',
 'uploads/post/attachments/1/invoice.pdf',
 '/uploads/post/attachments/%31/invoice.pdf',
 '/uploads/post/attachments/1/%00.pdf'].each do |path|
  check('another spelling of a private file', mw, app, path, :not_found)
end
check('another spelling, owner', mw, app, '/uploads/post/%61ttachments/%31/invoice.pdf', :granted, user: customer)
check('HEAD without a session', mw, app, "#{a}/1/invoice.pdf", :not_found, method: 'HEAD')
check('POST without a session', mw, app, "#{a}/1/invoice.pdf", :not_found, method: 'POST')

# No existence oracle: a missing post and a private one answer alike.
missing = request(mw, "#{a}/999/a.pdf")
hidden = request(mw, "#{a}/1/a.pdf")
$failures << 'a missing and a private post answer differently' if missing.first(3) != hidden.first(3)

# No database work for paths outside the post attachments.
before = records.connections
request(mw, '/assets/application.js')
request(mw, '/uploads/user/profile_image/10/me.png')
$failures << 'records were read for a path that needs none' if records.connections != before

# Errors while deciding: 404, only the error class logged.
raising = HelpdeskOperator::PrivateUploads.new(app, records: RaisingRecords.new(posts, users))
check('records raise', raising, app, "#{a}/1/secret.pdf", :not_found, user: agent)
check('session decoding raises', HelpdeskOperator::PrivateUploads.new(app, records: RaisingSession.new(posts, users)), app,
      "#{a}/1/secret.pdf", :not_found, user: customer)
log = request(raising, "#{a}/1/secret.pdf", user: agent).last
$failures << "the log names only the error class, got #{log.inspect}" unless log.include?('ArgumentError') && !log.include?('secret') && !log.include?('example.com')

# Errors of the app behind are not turned into 404s.
failing_app = ->(_env) { raise IOError, 'disk' }
begin
  HelpdeskOperator::PrivateUploads.new(failing_app, records: records).call(Rack::MockRequest.env_for('/assets/app.js'))
  $failures << "an error of the app behind was swallowed"
rescue IOError
  nil
end

# Registration: first in Rails' middleware stack, hence in front of ActionDispatch::Static.
ops = Rails.application.config.middleware.operations
if ops != [[:insert_before, 0, HelpdeskOperator::PrivateUploads]]
  $failures << "registration #{ops.inspect}"
end

if $failures.empty?
  puts 'ok'
else
  warn $failures.join("\n")
  exit 1
end
