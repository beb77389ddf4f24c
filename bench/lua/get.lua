-- GET with the Authorization header from $AUTH (if any).
local auth = os.getenv("AUTH")
if auth then wrk.headers["Authorization"] = auth end
