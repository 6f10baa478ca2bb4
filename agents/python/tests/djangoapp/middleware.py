def tag_response(get_response):
    """The project's own middleware: it must keep running alongside the agent's."""

    def middleware(request):
        response = get_response(request)
        response["X-Project-Middleware"] = "yes"
        return response

    return middleware
