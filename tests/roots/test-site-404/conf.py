extensions = ["ext.site"]
html_baseurl = "https://example.org/book/"
notfound_urls_prefix = "/book/"
sitemap_url_scheme = "{link}"
ogp_site_url = html_baseurl
ogp_social_cards = {"enable": False}
