-- POST $BODY as $TYPE, with the Authorization header from $AUTH.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = os.getenv("TYPE")
local auth = os.getenv("AUTH")
if auth then wrk.headers["Authorization"] = auth end
