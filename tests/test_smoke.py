from tests.helpers import png_bytes


async def test_create_upload_show_archive(server):
    async with server.admin() as c:
        r = await c.post("/api/v1/pleroma/emoji/pack", params={"name": "blobs"})
        assert r.status_code == 200, r.text
        assert r.json() == "ok"
        r = await c.post("/api/v1/pleroma/emoji/packs/files", params={"name": "blobs"},
                         files={"file": ("blobcat.png", png_bytes(), "image/png")})
        assert r.status_code == 200, r.text
        assert r.json() == {"blobcat": "blobcat.png"}
        r = await c.patch("/api/v1/pleroma/emoji/pack", params={"name": "blobs"},
                          json={"metadata": {"share-files": True, "license": "CC0"}})
        assert r.status_code == 200, r.text
        r = await c.get("/api/v1/pleroma/emoji/packs")
        assert r.status_code == 200
        body = r.json()
        assert body["count"] == 1
        assert body["packs"]["blobs"]["pack"]["can-download"] is True
        sha = body["packs"]["blobs"]["pack"]["download-sha256"]
        r = await c.get("/api/v1/pleroma/emoji/packs/archive", params={"name": "blobs"})
        assert r.status_code == 200
        import hashlib
        assert hashlib.sha256(r.content).hexdigest().upper() == sha
